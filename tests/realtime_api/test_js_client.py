"""Runs the supabase-js Realtime suite (tests/js/realtime.test.mjs) against this folder's node."""

from __future__ import annotations

import pytest
from conftest import RunningNode
from js_suites import run_js_suites

pytestmark = pytest.mark.network


def test_supabase_js_realtime_suite(node: RunningNode) -> None:
    run_js_suites(
        ["realtime.test.mjs"],
        url=node.url,
        anon_key=node.key("anon"),
        service_key=node.key("service_role"),
        min_tests=5,
    )
