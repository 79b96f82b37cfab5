"""Runs supabase-js suites in tests/js (Node's built-in test runner) against a running node.

Each runner passes its own files: `node --test` given the directory would run every suite
against a node started for one of them. `make test` installs the dependencies (`npm ci` in
tests/js); node v20+ is required.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

JS_DIR = Path(__file__).resolve().parent / "js"
REPO = JS_DIR.parents[1]


def run_js_suites(
    files: list[str], *, url: str, anon_key: str, service_key: str, min_tests: int
) -> str:
    """Run `files` (names in tests/js) with the node's URL and keys; fail unless all pass and
    at least `min_tests` ran. The TAP output, for a test to read further."""
    node_bin = shutil.which("node")
    assert node_bin, "node (v20 or newer) is required: it runs the supabase-js suites in tests/js"
    if not (JS_DIR / "node_modules" / "@supabase" / "supabase-js").is_dir():
        pytest.fail(
            "tests/js/node_modules is missing: `make test` installs it "
            "(or run `npm ci --no-audit --no-fund` in tests/js)"
        )
    env = {
        **os.environ,
        "SUPABASE_URL": url,
        "SUPABASE_ANON_KEY": anon_key,
        "SUPABASE_SERVICE_ROLE_KEY": service_key,
        "NO_COLOR": "1",
    }
    paths = [str((JS_DIR / name).relative_to(REPO)) for name in files]
    result = subprocess.run(
        [node_bin, "--test", "--test-reporter=tap", *paths],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    output = f"{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, f"node --test failed ({result.returncode}):\n{output}"
    passed = re.search(r"^# pass (\d+)$", result.stdout, re.MULTILINE)
    failed = re.search(r"^# fail (\d+)$", result.stdout, re.MULTILINE)
    assert passed and failed, f"no test summary from node --test:\n{output}"
    assert int(failed.group(1)) == 0, output
    assert int(passed.group(1)) >= min_tests, f"too few supabase-js tests ran:\n{output}"
    return result.stdout
