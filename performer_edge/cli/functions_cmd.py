"""`performer functions deploy|list|inspect|logs|runs|retry|rollback|delete`: manage the
running node's functions over its HTTP API (`POST /functions/v1/deploy`,
`/performer/v1/functions`), with the service_role key from the data dir. A `.wat` file is
converted to WebAssembly before upload.
"""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from performer_edge.cli.common import add_settings_flags, settings_from
from performer_edge.core.datadir import DataDir
from performer_edge.errors import ConfigError, PerformerError

MANAGE = "/performer/v1/functions"


def register(commands: Any) -> None:
    parser = commands.add_parser("functions", help="deploy and manage functions on a running node")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    deploy = actions.add_parser("deploy", help="deploy NAME from a .wasm (or .wat) file")
    deploy.add_argument("name")
    deploy.add_argument("file", type=Path)
    deploy.add_argument("--version", dest="function_version", help="version (default: next number)")
    deploy.add_argument("--description", default="")
    deploy.add_argument(
        "--trigger",
        action="append",
        default=[],
        help="event:KIND, event:row.insert:TABLE or 'cron:*/5 * * * *' (repeatable)",
    )
    deploy.add_argument(
        "--permission",
        action="append",
        default=[],
        help="db.read, db.write, db.service_role, storage.read or events.append",
    )
    deploy.add_argument(
        "--limit", action="append", default=[], help="NAME=VALUE, e.g. fuel=1000000"
    )
    for name, text in (
        ("list", "list the functions and their metrics"),
        ("inspect", "a function's versions and metrics"),
        ("logs", "a function's recent logs and failures"),
        ("runs", "a function's trigger runs on this node (status, attempts, last error)"),
        ("retry", "run a failed trigger run again"),
        ("rollback", "make an earlier version (or module hash) current"),
        ("delete", "delete a function and its versions"),
    ):
        action = actions.add_parser(name, help=text)
        if name != "list":
            action.add_argument("name")
        if name == "rollback":
            action.add_argument("version")
        if name == "retry":
            action.add_argument("run_id", type=int)
        if name == "runs":
            action.add_argument("--status", choices=("pending", "succeeded", "failed", "skipped"))
            action.add_argument("--limit", type=int, default=100, help="at most 1000")
    for action in actions.choices.values():
        add_settings_flags(action, ["data", "host", "port", "jwt_secret"])
        action.add_argument("--url", help="the node's URL (default: http://HOST:PORT)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.action == "deploy":
        answer = _request(args, "POST", "/functions/v1/deploy", _deploy_body(args))
    elif args.action == "list":
        answer = _request(args, "GET", MANAGE)
    elif args.action == "rollback":
        answer = _request(args, "POST", f"{MANAGE}/{args.name}/rollback", {"version": args.version})
    elif args.action == "runs":
        query = f"?limit={args.limit}" + (f"&status={args.status}" if args.status else "")
        answer = _request(args, "GET", f"{MANAGE}/{args.name}/runs", query=query)
    elif args.action == "retry":
        answer = _request(args, "POST", f"{MANAGE}/{args.name}/runs/{args.run_id}/retry", {})
    elif args.action == "delete":
        _request(args, "DELETE", f"{MANAGE}/{args.name}")
        print(f"deleted {args.name}")
        return 0
    else:
        suffix = "/logs" if args.action == "logs" else ""
        answer = _request(args, "GET", f"{MANAGE}/{args.name}{suffix}")
    print(json.dumps(answer, indent=2))
    return 0


def _deploy_body(args: argparse.Namespace) -> dict[str, Any]:
    import base64

    try:
        data = args.file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {args.file}: {exc}") from exc
    if args.file.suffix == ".wat":
        import wasmtime

        try:
            data = bytes(wasmtime.wat2wasm(data.decode()))
        except (wasmtime.WasmtimeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{args.file} is not valid WAT: {exc}") from exc
    limits: dict[str, int] = {}
    for item in args.limit:
        key, sep, value = item.partition("=")
        if not sep or not value.isdigit():
            raise ConfigError(f"--limit takes NAME=INTEGER, not {item!r}")
        limits[key] = int(value)
    body: dict[str, Any] = {
        "name": args.name,
        "wasm_base64": base64.b64encode(data).decode(),
        "description": args.description,
        "triggers": args.trigger,
        "permissions": args.permission,
        "limits": limits,
    }
    if args.function_version:
        body["version"] = args.function_version
    return body


def _request(
    args: argparse.Namespace, method: str, path: str, body: Any = None, *, query: str = ""
) -> Any:
    settings = settings_from(args)
    data_dir = DataDir(settings.data)
    data_dir.require_initialized()
    key = data_dir.api_keys(data_dir.load_token_keys(settings.jwt_secret)).service_role_key
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    base = (args.url or f"http://{host}:{settings.port}").rstrip("/")
    url = base + urllib.parse.quote(path) + query
    headers = {"apikey": key, "Authorization": f"Bearer {key}"}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=payload, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:500].decode("utf-8", "replace")
        raise PerformerError(f"{method} {url} answered {exc.code}: {detail}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise PerformerError(
            f"no node answers at {base} ({exc}); is `performer serve` running? "
            "(give --url, or --host and --port)"
        ) from exc
    return json.loads(raw) if raw else None
