"""Runs the supabase-js Storage suite (tests/js/storage.test.mjs): storage-js's own upload
encodings (raw body, Blob and FormData multipart, chunked streams, signed uploads) against
this folder's node."""

from __future__ import annotations

from conftest import RunningNode
from js_suites import run_js_suites


def test_supabase_js_storage_suite(node: RunningNode) -> None:
    run_js_suites(
        ["storage.test.mjs"],
        url=node.url,
        anon_key=node.key("anon"),
        service_key=node.key("service_role"),
        min_tests=8,
    )
