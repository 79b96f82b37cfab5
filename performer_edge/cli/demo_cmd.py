"""`performer demo chat`: start a node with the chat demo's table and serve the demo's pages.

The pages (index.html, ws.html with supabase-js, sse.html with EventSource) are served on their
own port and reach the node's API cross-origin; see performer_edge.web.chat_demo.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from performer_edge.cli.common import add_settings_flags, fail
from performer_edge.config import SETTINGS, Settings, load_settings
from performer_edge.core.datadir import DataDir
from performer_edge.errors import ConfigError, Unavailable
from performer_edge.http.server import serve
from performer_edge.logs import configure_logging
from performer_edge.node import Node
from performer_edge.rest.migrations import apply_migrations, read_migration_files
from performer_edge.web.chat_demo import (
    MIGRATION,
    MIGRATIONS_DIR,
    BundleMissing,
    DemoConfig,
    bound_port,
    require_bundle,
    start_demo_site,
)

DEFAULT_DATA = Path("performer-demo-data")
# Settings the demo passes through to its node (host and port are the demo's own flags).
NODE_SETTINGS = (
    "data",
    "log_level",
    "log_format",
    "api_url",
    "cors_origins",
    "jwt_secret",
    "jwt_expiry",
)


def register(commands: Any) -> None:
    parser = commands.add_parser("demo", help="run a demo app on a node")
    demos = parser.add_subparsers(dest="demo", metavar="DEMO")
    demos.required = True
    chat = demos.add_parser(
        "chat",
        help="start a node and serve the chat demo (WebSocket and SSE pages)",
        description="Start a node (data in ./performer-demo-data unless --data is given), apply "
        "the demo's chat_messages table, and serve the demo pages: index.html chooses a "
        "transport, ws.html chats with supabase-js over WebSocket, sse.html with EventSource.",
    )
    chat.add_argument(
        "--port",
        dest="page_port",
        type=int,
        default=3000,
        help="port of the demo pages (default: 3000; 0 picks a free one)",
    )
    chat.add_argument(
        "--api-port",
        type=int,
        default=54321,
        help="port of the node's API (default: 54321; 0 picks a free one)",
    )
    chat.add_argument(
        "--host",
        dest="demo_host",
        default="127.0.0.1",
        help="address both listen on (default: 127.0.0.1)",
    )
    chat.add_argument(
        "--node",
        metavar="URL",
        help="use the node serving at URL instead of starting one; it needs the demo's table "
        "(`performer demo chat --sql > demo_chat_001.sql`, then `performer serve --migrations "
        "demo_chat_001.sql`)",
    )
    chat.add_argument(
        "--anon-key", help="with --node: the node's anon key (default: read from --data)"
    )
    chat.add_argument(
        "--sql", action="store_true", help="print the demo's migration (its table) and exit"
    )
    add_settings_flags(chat, NODE_SETTINGS)
    chat.set_defaults(run=run_chat)


def run_chat(args: argparse.Namespace) -> int:
    if args.sql:
        print(MIGRATION.read_text(encoding="utf-8"), end="")
        return 0
    settings = _settings(args)
    configure_logging(settings.log_level, settings.log_format)
    try:
        require_bundle()
    except BundleMissing as exc:
        return fail(str(exc), 1)
    if args.node:
        return _use_running_node(args, settings)
    node = Node.open(settings)
    try:
        apply_migrations(
            node.db,
            node.log,
            read_migration_files([MIGRATIONS_DIR]),
            lambda name, status: print(f"migration {status}: {name}", flush=True),
        )
        asyncio.run(_serve_chat(node, args.page_port))
    finally:
        node.close()
    return 0


def _settings(args: argparse.Namespace) -> Settings:
    given = {s.name: getattr(args, s.name) for s in SETTINGS if hasattr(args, s.name)}
    given.setdefault("data", DEFAULT_DATA)
    given["host"] = args.demo_host
    given["port"] = args.api_port
    return load_settings(given, config_file=getattr(args, "config", None))


async def _serve_chat(node: Node, page_port: int) -> None:
    config = DemoConfig(anon_key=node.api_keys.anon_key, api_url=node.settings.api_url)
    host = node.settings.host
    runner = await _start_pages(config, host, page_port)
    try:

        def ready(api_host: str, api_port: int) -> None:
            config.api_port = api_port
            _banner(node, runner, api_host, api_port)

        try:
            await serve(node, on_ready=ready)
        except OSError as exc:
            raise Unavailable(
                f"cannot serve the API on {host}:{node.settings.port}: {exc}"
            ) from exc
    finally:
        await runner.cleanup()


def _banner(node: Node, runner: web.AppRunner, host: str, api_port: int) -> None:
    api_host = f"[{host}]" if ":" in host else host
    lines = [
        f"Chat demo         {_pages_url(runner, host)}",
        "  pages           index.html (pick a transport), ws.html (supabase-js over WebSocket),"
        " sse.html (EventSource)",
        f"  API URL           http://{api_host}:{api_port}",
        f"  anon key          {node.api_keys.anon_key}",
        f"  service_role key  {node.api_keys.service_role_key}",
        f"  data              {node.settings.data}",
        "Stop with Ctrl-C.",
    ]
    print("\n".join(lines), flush=True)
    sys.stdout.flush()


async def _start_pages(config: DemoConfig, host: str, port: int) -> web.AppRunner:
    try:
        return await start_demo_site(config, host, port)
    except OSError as exc:
        raise Unavailable(f"cannot serve the demo pages on {host}:{port}: {exc}") from exc


def _pages_url(runner: web.AppRunner, host: str) -> str:
    """The URL to open: `localhost` for a loopback or wildcard address (as the issue says)."""
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::", "::1") else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{bound_port(runner)}"


def _use_running_node(args: argparse.Namespace, settings: Settings) -> int:
    url = args.node.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"--node must be an http(s) URL, not {args.node!r}")
    anon_key = args.anon_key or _anon_key_of(settings)
    config = DemoConfig(anon_key=anon_key, api_url=url)
    asyncio.run(_serve_pages(config, settings.host, args.page_port))
    return 0


def _anon_key_of(settings: Settings) -> str:
    data_dir = DataDir(settings.data)
    if not data_dir.is_initialized():
        raise ConfigError(
            f"--node needs --anon-key, or --data with the node's data dir ({settings.data} "
            "is not one)"
        )
    return data_dir.api_keys(data_dir.load_token_keys(settings.jwt_secret)).anon_key


async def _serve_pages(config: DemoConfig, host: str, page_port: int) -> None:
    """Only the pages, for a node that is already serving (and has the demo's table)."""
    await _check_demo_table(config)
    runner = await _start_pages(config, host, page_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        print(f"Chat demo         {_pages_url(runner, host)}", flush=True)
        print(f"  node            {config.api_url}", flush=True)
        print("Stop with Ctrl-C.", flush=True)
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await runner.cleanup()


async def _check_demo_table(config: DemoConfig) -> None:
    url = f"{config.api_url}/rest/v1/chat_messages?select=id&limit=1"
    headers = {"apikey": config.anon_key}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
            http.get(url, headers=headers) as response,
        ):
            status, text = response.status, await response.text()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise Unavailable(f"cannot reach the node at {config.api_url}: {exc}") from exc
    if status != 200:
        raise Unavailable(
            f"the node at {config.api_url} does not serve the demo's chat_messages table "
            f"(HTTP {status}: {text[:200]}): save it with `performer demo chat --sql > "
            f"{MIGRATION.name}` and restart the node with `--migrations {MIGRATION.name}`"
        )
