"""A client that stops reading is disconnected, never waited for: the others get everything.

The node runs with a small `--bus-queue-size` (a session's outbox bound). One raw socket joins
a channel and then reads nothing, with a tiny receive buffer; a normal client on the same
channel must still receive every broadcast, and the silent one's connection must end."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import aiohttp
import pytest
from conftest import RunningNode

from .conftest import WAIT_S
from .phoenix_client import RawSocket

pytestmark = pytest.mark.network

COUNT = 600
BATCH = 16  # broadcasts per HTTP request: one commit, one burst, well inside the outbox bound
PAYLOAD = "x" * 20_000  # 12 MB in all: more than the kernel buffers between the two ends


def masked_text_frame(text: str) -> bytes:
    """A client→server WebSocket text frame (clients must mask)."""
    payload = text.encode()
    mask = os.urandom(4)
    length = len(payload)
    header = bytes([0x81]) + (
        bytes([0x80 | length]) if length < 126 else bytes([0x80 | 126]) + length.to_bytes(2, "big")
    )
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def silent_client(
    url: str, key: str, topic: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parts = urlsplit(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (parts.hostname, parts.port))
    reader, writer = await asyncio.open_connection(sock=sock)
    query = urlencode({"apikey": key, "vsn": "1.0.0"})
    writer.write(
        (
            f"GET /realtime/v1/websocket?{query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT_S)
    assert b" 101 " in head.split(b"\r\n")[0], head
    join = {"topic": topic, "event": "phx_join", "payload": {"config": {}}, "ref": "1"}
    writer.write(masked_text_frame(json.dumps(join)))
    await writer.drain()
    reply = await asyncio.wait_for(reader.readuntil(b'"phx_reply"'), WAIT_S)
    assert b'"status":"ok"' in reply + await asyncio.wait_for(reader.read(200), WAIT_S)
    return reader, writer  # keep the writer: dropping it closes the connection


async def test_a_client_that_reads_nothing_is_cut_off_and_slows_nobody(
    tmp_path: Path, serving: Callable[..., RunningNode]
) -> None:
    node = serving(tmp_path / "data", "--bus-queue-size", "64")
    name = f"busy-{uuid.uuid4().hex[:8]}"
    topic = "realtime:" + name
    async with aiohttp.ClientSession() as http:
        reader, writer = await silent_client(node.url, node.key("anon"), topic)
        fast = await RawSocket.open(http, node.url, node.key("anon"))
        assert (await fast.join(topic, {}))["status"] == "ok"
        await asyncio.sleep(0)  # the silent join is already sent; it has been read by now
        got: list[int] = []

        async def collect() -> None:
            while len(got) < COUNT:
                got.append((await fast.next_event("broadcast"))["payload"]["payload"]["n"])

        collector = asyncio.create_task(collect())
        url = f"{node.url}/realtime/v1/api/broadcast"
        headers = {"apikey": node.key("service_role")}
        for start in range(0, COUNT, BATCH):
            messages = [
                {"topic": name, "event": "load", "payload": {"n": n, "pad": PAYLOAD}}
                for n in range(start, start + BATCH)
            ]
            async with http.post(url, json={"messages": messages}, headers=headers) as sent:
                assert sent.status == 202
        await asyncio.wait_for(collector, WAIT_S * 2)
        assert got == list(range(COUNT))

        # The silent client's connection was ended by the server: reading it to the end
        # (what the buffers held, then EOF) finishes instead of hanging.
        async def drain() -> bytes:
            received = b""
            while chunk := await reader.read(65536):
                received = received[-64:] + chunk
            return received

        tail = await asyncio.wait_for(drain(), WAIT_S)
        writer.close()
        # It got broadcasts until its outbox overflowed, then a close frame saying why (4000).
        assert tail.endswith(b"\x0f\xa0slow_client"), tail[-40:]
