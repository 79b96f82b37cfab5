"""The supabase-py client of one conformance node, with its raw HTTP responses visible (the
client hides statuses and most headers), and raw requests for what the client cannot express."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from conftest import RunningNode
from postgrest.exceptions import APIError
from supabase import Client, create_client


class Wire:
    """The service-role client of one node plus the last HTTP response it received."""

    def __init__(self, node: RunningNode) -> None:
        self.node = node
        self.key = node.key("service_role")
        self.client: Client = create_client(node.url, self.key)
        self.responses: list[httpx.Response] = []
        self.client.postgrest.session.event_hooks["response"].append(self.responses.append)

    @property
    def last(self) -> httpx.Response:
        """The response to the client's latest request (status and headers as sent)."""
        return self.responses[-1]

    def request(
        self,
        method: str,
        path: str,
        params: Any = None,
        headers: dict[str, str] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        """A raw request to `/rest/v1/<path>` for what the client cannot express."""
        return httpx.request(
            method,
            f"{self.node.url}/rest/v1/{path}",
            params=params,
            json=json,
            headers={"apikey": self.key, "Authorization": f"Bearer {self.key}", **(headers or {})},
        )


def api_error(call: Any) -> APIError:
    with pytest.raises(APIError) as caught:
        call()
    return caught.value
