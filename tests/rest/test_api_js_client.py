"""Runs the supabase-js REST suites (tests/js/rest*.test.mjs: reads, writes and RPC, row-level
security) against a real node started with tests/js/rest_migrations (supabase-wire.md §1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import start_serving
from js_suites import JS_DIR, run_js_suites

pytestmark = pytest.mark.network

MIGRATIONS = JS_DIR / "rest_migrations"
SUITES = ["rest.test.mjs", "rest-writes.test.mjs", "rest-rls.test.mjs"]
MIN_JS_TESTS = 50


def test_supabase_js_rest_suites(tmp_path: Path) -> None:
    node = start_serving(tmp_path / "data", "--migrations", str(MIGRATIONS))
    try:
        run_js_suites(
            SUITES,
            url=node.url,
            anon_key=node.key("anon"),
            service_key=node.key("service_role"),
            min_tests=MIN_JS_TESTS,
        )
    finally:
        node.stop()
        if node.proc.stdout is not None:
            node.proc.stdout.close()
