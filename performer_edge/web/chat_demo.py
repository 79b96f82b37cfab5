"""The chat demo's web server: the pages of `performer demo chat` and what they load.

It serves static files and a generated `config.js` (the node's API port and anon key) on a port
of its own; the pages talk to the node's API cross-origin. It imports nothing from the node.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson
from aiohttp import web

WEB_DIR = Path(__file__).resolve().parent
PAGES_DIR = WEB_DIR / "chat"
MIGRATIONS_DIR = WEB_DIR / "migrations"
MIGRATION = MIGRATIONS_DIR / "demo_chat_001.sql"
# supabase-js's UMD build, installed by `make web-deps` (npm ci in performer_edge/web) and
# bundled into the executable by pkg/performer.spec. Served locally: the demo loads no CDN.
SUPABASE_JS = (
    WEB_DIR / "node_modules" / "@supabase" / "supabase-js" / "dist" / "umd" / "supabase.js"
)

PAGES = {
    "/": "index.html",
    "/index.html": "index.html",
    "/ws.html": "ws.html",
    "/sse.html": "sse.html",
    "/chat.css": "chat.css",
    "/chat.js": "chat.js",
    "/ws.js": "ws.js",
    "/sse.js": "sse.js",
}
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
}
NO_CACHE = {"Cache-Control": "no-cache"}


class BundleMissing(Exception):
    """supabase-js's browser bundle is not installed next to the pages."""


@dataclass
class DemoConfig:
    """What the pages need to reach the node; `api_port` is filled in once the node listens.

    `api_url` (when set) is used as is; otherwise the pages reach the node on the host name they
    were loaded from, at `api_port`, so the demo works from `localhost` and from the LAN alike.
    """

    anon_key: str
    api_port: int = 0
    api_url: str | None = None

    def script(self) -> str:
        values = {"anonKey": self.anon_key, "apiPort": self.api_port, "apiUrl": self.api_url}
        return f"window.PERFORMER_DEMO = {orjson.dumps(values).decode()};\n"


def require_bundle() -> Path:
    if not SUPABASE_JS.is_file():
        raise BundleMissing(
            f"supabase-js's browser bundle is missing ({SUPABASE_JS}): run `make web-deps` "
            "(npm ci in performer_edge/web, Node.js 20+) in a clone of the project, or use the "
            "executable built by `make binary`, which carries it"
        )
    return SUPABASE_JS


def make_demo_app(config: DemoConfig) -> web.Application:
    bundle = require_bundle()
    app = web.Application()

    async def page(request: web.Request) -> web.FileResponse:
        path = PAGES_DIR / PAGES[request.path]
        return web.FileResponse(
            path, headers={**NO_CACHE, "Content-Type": CONTENT_TYPES[path.suffix]}
        )

    async def config_script(_: web.Request) -> web.Response:
        return web.Response(text=config.script(), content_type="text/javascript", headers=NO_CACHE)

    async def supabase_js(_: web.Request) -> web.FileResponse:
        return web.FileResponse(bundle, headers={"Content-Type": CONTENT_TYPES[".js"]})

    for route in PAGES:
        app.router.add_get(route, page)
    app.router.add_get("/config.js", config_script)
    app.router.add_get("/vendor/supabase.js", supabase_js)
    return app


async def start_demo_site(config: DemoConfig, host: str, port: int) -> web.AppRunner:
    """Listen for the pages on host:port; an OSError (port in use) leaves nothing running."""
    runner = web.AppRunner(make_demo_app(config), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, reuse_address=True).start()
    except OSError:
        await runner.cleanup()
        raise
    return runner


def bound_port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    raise RuntimeError("the demo site is not listening")
