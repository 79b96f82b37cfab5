"""Runs the supabase-js auth suite (tests/js/auth.test.mjs) against a real node."""

from __future__ import annotations

from pathlib import Path

import pytest
from auth_support import NO_RATE_LIMITS, running_node
from js_suites import run_js_suites

MIN_JS_TESTS = 15


@pytest.mark.network
def test_supabase_js_suite(tmp_path: Path) -> None:
    with running_node(tmp_path, *NO_RATE_LIMITS) as node:
        run_js_suites(
            ["auth.test.mjs"],
            url=node.url,
            anon_key=node.anon_key,
            service_key=node.service_key,
            min_tests=MIN_JS_TESTS,
        )
