"""Runs the supabase-js streams suite (tests/js/streams.test.mjs) against this folder's node."""

from __future__ import annotations

import pytest
from conftest import RunningNode
from js_suites import run_js_suites

pytestmark = pytest.mark.network


def test_supabase_js_follows_a_stream(node: RunningNode) -> None:
    run_js_suites(
        ["streams.test.mjs"],
        url=node.url,
        anon_key=node.key("anon"),
        service_key=node.key("service_role"),
        min_tests=1,
    )
