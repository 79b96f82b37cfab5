"""The committed examples (C, AssemblyScript and WAT) deployed with `performer functions deploy`
and invoked with supabase-py; `performer generate:wasm` scaffolds a module that deploys; the
management commands."""

from __future__ import annotations

import io
import json
import subprocess
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import httpx
import pytest
import wasmtime
from supabase import ClientOptions, create_client
from supabase_functions.errors import FunctionsHttpError

from performer_edge import cli
from tests.conftest import RunningNode, performer_command

pytestmark = pytest.mark.network

EXAMPLES = Path(__file__).parents[2] / "examples" / "functions"
ASSEMBLYSCRIPT = EXAMPLES / "assemblyscript"


def performer(node: RunningNode, *args: str) -> subprocess.CompletedProcess[str]:
    """`performer ARGS` against `node`, run in this process: the CLI's own parser and commands,
    without the 2-3 s of interpreter start and imports a subprocess costs (the first test runs
    the real executable once)."""
    return run_cli(*args, "--url", node.url, "--data", str(node_data(node)))


def run_cli(*argv: str) -> subprocess.CompletedProcess[str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(argv)
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


def node_data(node: RunningNode) -> Path:
    return node.log_path.parent / "data"


def test_the_c_example_deploys_from_the_cli_and_answers(node: RunningNode) -> None:
    data = str(node_data(node))
    done = subprocess.run(
        performer_command(
            "functions",
            "deploy",
            "hello-c",
            str(EXAMPLES / "hello-c.wasm"),
            "--url",
            node.url,
            "--data",
            data,
        ),
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["abi"] == "command"
    client = create_client(node.url, node.key("anon"))
    answer = client.functions.invoke("hello-c", {"method": "GET", "responseType": "json"})
    assert answer["message"] == "hello from C"
    assert answer["method"] == "GET"
    logs = json.loads(performer(node, "functions", "logs", "hello-c").stdout)["logs"]
    assert "handled a" in logs[-1]["log"]


def test_the_wat_example_deploys_from_source_and_reuses_its_instance(node: RunningNode) -> None:
    source = EXAMPLES / "hello-wat.wat"
    assert (
        bytes(wasmtime.wat2wasm(source.read_text())) == (EXAMPLES / "hello-wat.wasm").read_bytes()
    )
    done = performer(node, "functions", "deploy", "hello-wat", str(source), "--version", "1.0")
    assert done.returncode == 0, done.stderr
    client = create_client(node.url, node.key("anon"))
    for n in range(3):
        answer = client.functions.invoke("hello-wat", {"body": {"n": n}, "responseType": "json"})
        assert json.loads(answer["body"]) == {"n": n}
    info = json.loads(performer(node, "functions", "inspect", "hello-wat").stdout)
    assert info["abi"] == "raw"
    assert info["metrics"]["invocations"] == 3


def test_the_assemblyscript_example_answers_supabase_py(node: RunningNode) -> None:
    # The committed .wasm, so no npm here; deploy refuses it if asc left an `env` import in.
    done = performer(node, "functions", "deploy", "hello-as", str(ASSEMBLYSCRIPT / "hello-as.wasm"))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["abi"] == "command"
    seen: list[httpx.Response] = []  # invoke returns only the body: status and headers from here
    with httpx.Client(timeout=30, event_hooks={"response": [seen.append]}) as http:
        client = create_client(node.url, node.key("anon"), ClientOptions(httpx_client=http))
        body = {"order": 7, "note": 'say "hi"'}
        answer = client.functions.invoke("hello-as", {"body": body, "responseType": "json"})
        assert answer["message"] == "hello from AssemblyScript"
        assert (answer["method"], answer["role"]) == ("POST", "anon")
        assert answer["request_bytes"] > len(json.dumps(body))
        assert seen[-1].status_code == 200
        assert seen[-1].headers["x-made-by"] == "assemblyscript"
        assert seen[-1].headers["content-type"] == "application/json"
        with pytest.raises(FunctionsHttpError) as caught:
            client.functions.invoke("hello-as/no/such", {"method": "GET"})
        assert caught.value.status == 404
        assert "no route for /no/such" in caught.value.message
        assert seen[-1].headers["x-made-by"] == "assemblyscript"
    logs = json.loads(performer(node, "functions", "logs", "hello-as").stdout)["logs"]
    assert "-byte GET /no/such" in logs[-1]["log"]


def test_generate_writes_the_assemblyscript_example_with_its_build_command(tmp_path: Path) -> None:
    done = run_cli("generate:wasm", "hello-as", "--lang", "assemblyscript", "--dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    # The example's source is the template (a link to it), so the two cannot drift apart.
    template = (ASSEMBLYSCRIPT / "hello-as.ts").read_text()
    assert (tmp_path / "hello-as.ts").read_text() == template.replace("NAME", "hello-as")
    # The scaffold's build line and the example's package.json (which build.sh runs) agree.
    package = json.loads((ASSEMBLYSCRIPT / "package.json").read_text())
    version = package["devDependencies"]["assemblyscript"]
    assert f"npx -p assemblyscript@{version} {package['scripts']['build']}" in done.stdout


def generate(tmp_path: Path, lang: str) -> subprocess.CompletedProcess[str]:
    return run_cli("generate:wasm", "scaffolded", "--lang", lang, "--dir", str(tmp_path))


def test_generate_scaffolds_a_module_that_deploys(node: RunningNode, tmp_path: Path) -> None:
    done = generate(tmp_path, "wat")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "scaffolded.wat").exists()
    deployed = performer(
        node, "functions", "deploy", "scaffolded", str(tmp_path / "scaffolded.wat")
    )
    assert deployed.returncode == 0, deployed.stderr
    again = generate(tmp_path, "c")
    assert again.returncode == 0
    assert "clang --target=wasm32-wasi" in again.stdout


def test_rollback_and_delete_from_the_cli(node: RunningNode) -> None:
    wat = str(EXAMPLES / "hello-wat.wat")
    assert performer(node, "functions", "deploy", "cycle", wat, "--version", "a").returncode == 0
    c_module = str(EXAMPLES / "hello-c.wasm")
    assert (
        performer(node, "functions", "deploy", "cycle", c_module, "--version", "b").returncode == 0
    )
    rolled = performer(node, "functions", "rollback", "cycle", "a")
    assert rolled.returncode == 0, rolled.stderr
    listed = json.loads(performer(node, "functions", "list").stdout)["functions"]
    assert {f["name"]: f["version"] for f in listed}["cycle"] == "a"
    assert performer(node, "functions", "delete", "cycle").returncode == 0
    missing = performer(node, "functions", "inspect", "cycle")
    assert missing.returncode == 1
    assert "404" in missing.stderr
