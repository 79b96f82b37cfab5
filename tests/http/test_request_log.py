"""The request log: one `request` line per request with its id, method, path, status, duration,
role and peer, built without the caller lookup of `log.info`; none below INFO."""

from __future__ import annotations

import logging
import re

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from performer_edge.node import Node


def request_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [
        record.fields  # type: ignore[attr-defined]
        for record in caplog.records
        if record.name == "performer.http" and record.getMessage() == "request"
    ]


async def test_each_request_is_logged_with_its_fields(
    node: Node, server: TestServer, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="performer.http")
    service = {"apikey": node.api_keys.service_role_key, "x-request-id": "req-given"}
    async with http.get(str(server.make_url("/health"))) as response:
        assert response.status == 200
    async with http.get(str(server.make_url("/events/v1/nope")), headers=service) as response:
        assert response.status == 404
    generated, given = request_lines(caplog)
    assert re.fullmatch(r"[0-9a-f]{16}", str(generated["request_id"]))
    assert (generated["method"], generated["path"], generated["status"]) == ("GET", "/health", 200)
    assert generated["role"] is None and generated["remote"] == "127.0.0.1"
    assert isinstance(generated["ms"], float) and generated["ms"] >= 0
    assert (given["request_id"], given["status"], given["role"]) == (
        "req-given",
        404,
        "service_role",
    )
    record = next(r for r in caplog.records if r.getMessage() == "request")
    assert record.levelno == logging.INFO


async def test_nothing_is_logged_below_info(
    server: TestServer, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="performer.http")
    async with http.get(str(server.make_url("/health"))) as response:
        assert response.status == 200
    assert request_lines(caplog) == []
