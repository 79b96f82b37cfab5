"""Runs the supabase-js suite (`tests/js`, Node's built-in test runner) against a real node.

`make test` installs its dependencies (`npm ci` in tests/js); node v20+ is required.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from auth_support import NO_RATE_LIMITS, running_node

JS_DIR = Path(__file__).resolve().parents[1] / "js"
REPO = JS_DIR.parents[1]
MIN_JS_TESTS = 15


@pytest.mark.network
def test_supabase_js_suite(tmp_path: Path) -> None:
    node_bin = shutil.which("node")
    assert node_bin, "node (v20 or newer) is required: it runs the supabase-js suite in tests/js"
    if not (JS_DIR / "node_modules" / "@supabase" / "supabase-js").is_dir():
        pytest.fail(
            "tests/js/node_modules is missing: `make test` installs it "
            "(or run `npm ci --no-audit --no-fund` in tests/js)"
        )
    with running_node(tmp_path, *NO_RATE_LIMITS) as node:
        env = {
            **os.environ,
            "SUPABASE_URL": node.url,
            "SUPABASE_ANON_KEY": node.anon_key,
            "SUPABASE_SERVICE_ROLE_KEY": node.service_key,
            "NO_COLOR": "1",
        }
        result = subprocess.run(
            [node_bin, "--test", "--test-reporter=tap", str(JS_DIR.relative_to(REPO))],
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
    assert int(passed.group(1)) >= MIN_JS_TESTS, f"too few supabase-js tests ran:\n{output}"
