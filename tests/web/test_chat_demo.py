"""`performer demo chat` driven in headless Chromium (Debian's chromium, through Playwright): a
ws.html page (supabase-js) and an sse.html page (EventSource) chat, see each other in presence,
keep the history over a reload and a restart of the node, and see a closed page leave.

Screenshots go to test-artifacts/chat-demo/TEST/ (or $PERFORMER_TEST_ARTIFACTS/chat-demo/TEST/).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import RunningNode, performer_command

playwright_api = pytest.importorskip("playwright.sync_api")
Browser = playwright_api.Browser
Page = playwright_api.Page
expect = playwright_api.expect

pytestmark = pytest.mark.network

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# What works on this machine's closed network: no background fetches (they fail and slow pages
# down), no QUIC, no GPU, no sandbox (CI runs as root).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 15_000  # generous: the machine may be busy running other suites
START_S = 60.0


class DemoProcess:
    """`performer demo chat` on free ports of 127.0.0.1; its banner gives the pages' URL."""

    def __init__(self, log_path: Path, *args: str) -> None:
        command = performer_command("demo", "chat", "--port", "0", "--api-port", "0", *args)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(log_path, "a") as log:
            self.proc = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=log, text=True, env=env
            )
        self.log_path = log_path
        self.lines: list[str] = []
        ready = threading.Event()

        def read() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                self.lines.append(line)
                if line.startswith("Stop with"):
                    ready.set()
            ready.set()

        threading.Thread(target=read, name="demo-banner", daemon=True).start()
        if not ready.wait(START_S) or not any(x.startswith("Stop with") for x in self.lines):
            self.stop()
            raise AssertionError(f"demo did not start: {''.join(self.lines)}{log_path.read_text()}")
        page_url = next(x.split()[-1] for x in self.lines if x.startswith("Chat demo"))
        # The pages reach the API on the host they were loaded from: load them from 127.0.0.1.
        self.url = page_url.replace("localhost", "127.0.0.1")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(30) == 0, self.log_path.read_text()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    base = Path(os.environ.get("PERFORMER_TEST_ARTIFACTS", ROOT / "test-artifacts"))
    folder = base / "chat-demo" / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).is_file():
        message = f"{CHROMIUM} is missing: `make browser-deps` installs Debian's chromium"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it; a missing browser there is a failure
        pytest.skip(message)
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


def open_page(browser: Browser, url: str, errors: list[str]) -> Page:
    """A page in a context of its own (its own sessionStorage: its own user and name)."""
    page = browser.new_context().new_page()
    page.set_default_timeout(WAIT_MS)
    page.on("pageerror", lambda exc: errors.append(f"{url}: {exc}"))
    page.goto(url)
    return page


def join(page: Page, name: str) -> None:
    page.fill("#name", name)
    page.click("#join")
    expect(page.locator("#status")).to_have_attribute("data-state", "connected", timeout=WAIT_MS)
    expect(page.locator("#join-form")).to_be_hidden()


def send(page: Page, text: str) -> None:
    page.fill("#message", text)
    page.click("#send")
    expect(page.locator("#message")).to_have_value("", timeout=WAIT_MS)


def shows_message(page: Page, name: str, text: str) -> None:
    item = page.locator("#messages li", has_text=text)
    expect(item).to_have_count(1, timeout=WAIT_MS)  # once: history and live never doubled
    expect(item.locator(".who")).to_have_text(name)


def online(page: Page, names: list[str]) -> None:
    expect(page.locator("#presence li .who")).to_have_text(sorted(names), timeout=WAIT_MS)


def test_ws_and_sse_pages_chat_with_presence_and_history(
    tmp_path: Path, browser: Browser, artifacts: Path
) -> None:
    data = tmp_path / "data"
    log_path = tmp_path / "demo.log"
    demo = DemoProcess(log_path, "--data", str(data))
    errors: list[str] = []
    try:
        chooser = open_page(browser, f"{demo.url}/", errors)
        chooser.click("#sse")
        expect(chooser).to_have_url(re.compile(r"/sse\.html$"))
        chooser.context.close()

        ws = open_page(browser, f"{demo.url}/ws.html", errors)
        sse = open_page(browser, f"{demo.url}/sse.html", errors)
        join(ws, "alice")
        join(sse, "bob")
        online(ws, ["alice", "bob"])
        online(sse, ["alice", "bob"])

        send(ws, "hello from the WebSocket page")
        send(sse, "hello back over SSE")
        for page in (ws, sse):
            shows_message(page, "alice", "hello from the WebSocket page")
            shows_message(page, "bob", "hello back over SSE")
        ws.screenshot(path=str(artifacts / "1-ws.png"))
        sse.screenshot(path=str(artifacts / "1-sse.png"))

        # History on reload: the messages come back from /rest/v1, and each page rejoins with the
        # name its tab remembers.
        for page, name in ((ws, "alice"), (sse, "bob")):
            page.reload()
            expect(page.locator("#messages li")).to_have_count(2)
            shows_message(page, "alice", "hello from the WebSocket page")
            expect(page.locator("#status")).to_have_attribute("data-state", "connected")
            online(page, ["alice", "bob"])
            assert name in page.locator("#presence").inner_text()
        send(sse, "still here after a reload")
        shows_message(ws, "bob", "still here after a reload")
        sse.screenshot(path=str(artifacts / "2-sse-after-reload.png"))

        # Closing a page is leaving: the other page's presence list drops it.
        sse.context.close()
        online(ws, ["alice"])
        ws.screenshot(path=str(artifacts / "3-ws-after-bob-left.png"))
        ws.context.close()
    finally:
        demo.stop()

    # The history survives a restart of the node (a fresh tab, a fresh user).
    demo = DemoProcess(log_path, "--data", str(data))
    try:
        later = open_page(browser, f"{demo.url}/sse.html", errors)
        expect(later.locator("#messages li")).to_have_count(3)
        shows_message(later, "bob", "still here after a reload")
        join(later, "carol")
        online(later, ["carol"])
        send(later, "the node came back")
        shows_message(later, "carol", "the node came back")
        later.screenshot(path=str(artifacts / "4-after-restart.png"))
        later.context.close()
    finally:
        demo.stop()
    assert not errors, errors


def test_missing_bundle_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without supabase-js's bundle the command stops before opening a node, saying how to get
    it (checked by pointing at a missing file, not by moving the real one)."""
    from performer_edge.cli import main
    from performer_edge.web import chat_demo

    monkeypatch.setattr(chat_demo, "SUPABASE_JS", tmp_path / "supabase.js")
    data = tmp_path / "data"
    assert main(["demo", "chat", "--port", "0", "--api-port", "0", "--data", str(data)]) == 1
    error = capsys.readouterr().err
    assert "supabase-js's browser bundle is missing" in error and "make web-deps" in error
    assert not data.exists()


@pytest.mark.slow
def test_pages_outlive_their_first_tokens(
    tmp_path: Path, browser: Browser, artifacts: Path
) -> None:
    """With 30 s tokens both pages refresh theirs (supabase-js by itself, sse.js by its timer)
    and push them to the channel: past the first tokens' expiry they still chat and are still
    online to each other."""
    demo = DemoProcess(
        tmp_path / "demo.log", "--data", str(tmp_path / "data"), "--jwt-expiry", "30"
    )
    errors: list[str] = []
    try:
        ws = open_page(browser, f"{demo.url}/ws.html", errors)
        sse = open_page(browser, f"{demo.url}/sse.html", errors)
        join(ws, "alice")
        join(sse, "bob")
        online(ws, ["alice", "bob"])
        first = {
            page: json.loads(page.evaluate(f"sessionStorage.getItem('{key}')"))
            for page, key in ((ws, "performer-chat-ws-auth"), (sse, "performer-chat-sse-auth"))
        }
        expired_at = max(session["expires_at"] for session in first.values()) + 2
        while time.time() < expired_at:  # the condition is the clock: the first tokens expire
            ws.wait_for_timeout(500)
        for page, key in ((ws, "performer-chat-ws-auth"), (sse, "performer-chat-sse-auth")):
            now = json.loads(page.evaluate(f"sessionStorage.getItem('{key}')"))
            assert now["access_token"] != first[page]["access_token"], key
        send(ws, "alice after the first token")
        send(sse, "bob after the first token")
        for page in (ws, sse):
            shows_message(page, "alice", "alice after the first token")
            shows_message(page, "bob", "bob after the first token")
            online(page, ["alice", "bob"])
            expect(page.locator("#status")).to_have_attribute("data-state", "connected")
        sse.screenshot(path=str(artifacts / "5-sse-after-token-refresh.png"))
    finally:
        demo.stop()
    assert not errors, errors


def test_pages_for_a_node_already_serving(
    tmp_path: Path, serving: Callable[..., RunningNode]
) -> None:
    """`--node URL` serves only the pages, for a running node that has the demo's table (from
    `--sql`); a node without it is refused with how to add it."""
    printed = subprocess.run(
        performer_command("demo", "chat", "--sql"), capture_output=True, text=True, check=True
    )
    assert "create table chat_messages" in printed.stdout
    bare = serving(tmp_path / "bare")
    refused = subprocess.run(
        performer_command("demo", "chat", "--node", bare.url, "--anon-key", bare.key("anon")),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 1
    assert "chat_messages" in refused.stderr and "--sql" in refused.stderr, refused.stderr

    migration = tmp_path / "demo_chat_001.sql"
    migration.write_text(printed.stdout)
    data = tmp_path / "data"
    node = serving(data, "--migrations", str(migration))
    demo = DemoProcess(tmp_path / "demo.log", "--node", node.url, "--data", str(data))
    try:
        assert f'"apiUrl":"{node.url}"' in fetch(demo.url, "/config.js")
        assert node.key("anon") in fetch(demo.url, "/config.js")
        # Everything the pages load comes from the demo: supabase-js too, no CDN.
        assert 'href="ws.html"' in fetch(demo.url, "/")
        assert "createClient" in fetch(demo.url, "/vendor/supabase.js")
        for page in ("index.html", "ws.html", "sse.html"):
            sources = re.findall(r'(?:src|href)="([^"]+)"', fetch(demo.url, f"/{page}"))
            assert sources and not [s for s in sources if "//" in s], sources
            for source in sources:
                fetch(demo.url, f"/{source}")
    finally:
        demo.stop()


def fetch(base: str, path: str) -> str:
    with urllib.request.urlopen(f"{base}{path}", timeout=10) as response:
        assert response.status == 200, path
        text: str = response.read().decode()
        return text
