"""Runs the supabase-js Functions suite (tests/js/functions.test.mjs): `functions.invoke` with
JSON, text, binary and FormData bodies, methods, headers and error statuses, against functions
deployed here first."""

from __future__ import annotations

import base64

import pytest

from tests.conftest import RunningNode
from tests.functions.conftest import deployed
from tests.functions.guests import INFINITE_LOOP, RAW_ECHO, command_constant
from tests.js_suites import run_js_suites

pytestmark = pytest.mark.network

BYTES = bytes([0, 1, 2, 253, 254, 255])


def test_supabase_js_functions_suite(node: RunningNode) -> None:
    deployed(node, "js-echo", RAW_ECHO)
    deployed(node, "js-text", command_constant({"body": "hello in plain text"}))
    deployed(
        node,
        "js-bytes",
        command_constant(
            {"headers": {"x-made-by": "wat"}, "body_base64": base64.b64encode(BYTES).decode()}
        ),
    )
    deployed(
        node, "js-teapot", command_constant({"status": 418, "json": {"error": "short and stout"}})
    )
    deployed(node, "js-loop", INFINITE_LOOP, limits={"fuel": 1_000_000})
    run_js_suites(
        ["functions.test.mjs"],
        url=node.url,
        anon_key=node.key("anon"),
        service_key=node.key("service_role"),
        min_tests=12,
    )
