"""Two in-process nodes over the SSE transport (stream down, POSTs up): they converge; a dropped
stream resumes the same session with Last-Event-ID; bad uploads get clear errors."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from performer_edge.peers import sse_wire
from performer_edge.peers.transport_sse_client import UploadLink
from tests.peers.peer_support import converged, dialing, join, served, wait_for


async def test_sse_sessions_converge_and_resume_a_dropped_stream(tmp_path: Path) -> None:
    join(tmp_path / "a")
    join(tmp_path / "b")
    async with served(tmp_path / "a") as a, served(tmp_path / "b") as b:
        await a.write(300, "a")
        await b.write(100, "b")
        async with dialing(a, f"sse+{b.url}"):
            await wait_for(lambda: converged(a, b), "catch-up over SSE")
            [dialed] = a.peers.connections
            [accepted] = b.peers.connections
            assert dialed.link.transport == accepted.link.transport == "sse"
            assert isinstance(dialed.link, UploadLink) and dialed.link.response is not None
            received = dialed.frames_in

            dialed.link.response.close()  # the stream drops under the client
            await b.write(50, "b during the drop")
            await wait_for(lambda: converged(a, b), "sync after the stream resumed")
            # the same sessions on both sides: resumed, not reopened
            assert a.peers.connections == {dialed} and b.peers.connections == {accepted}
            assert a.peers.sessions_opened == b.peers.sessions_opened == 1
            assert dialed.frames_in > received and not dialed.finished
            await a.write(5, "a after")
            await wait_for(lambda: converged(a, b), "uploads after the resume")


async def test_a_resume_of_an_unknown_session_gets_a_new_one(tmp_path: Path) -> None:
    join(tmp_path / "b")
    async with served(tmp_path / "b") as b, aiohttp.ClientSession() as http:
        stream = f"{b.url}/performer/v1/sync/stream"
        async with http.get(stream, headers={"Last-Event-ID": "nosuch.5"}) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/event-stream")
            parser = sse_wire.EventParser()
            events: list[sse_wire.ServerEvent] = []
            async for chunk in response.content.iter_any():
                events += parser.feed(chunk)
                if len(events) >= 2:
                    break
        assert events[0].name == "session" and events[0].data != "nosuch"
        session = events[0].data
        assert events[1].event_id == f"{session}.1"  # the new session's HELLO


async def test_uploads_are_checked(tmp_path: Path) -> None:
    join(tmp_path / "b")
    async with served(tmp_path / "b") as b, aiohttp.ClientSession() as http:
        push = f"{b.url}/performer/v1/sync/push"
        async with http.post(push, params={"session": "nosuch", "seq": "1"}, data=b"x") as r:
            assert r.status == 404
            assert "open a new stream" in await r.text()
        async with http.get(f"{b.url}/performer/v1/sync/stream") as response:
            parser = sse_wire.EventParser()
            session = ""
            async for chunk in response.content.iter_any():
                named = [e for e in parser.feed(chunk) if e.name == "session"]
                if named:
                    session = named[0].data
                    break
            [connection] = b.peers.connections
            hello = b"\x81\x09\xfb\x00\x00\x00\x00\x00\x00\x00\x00"  # PING [9, 0.0]
            body = sse_wire.pack_frames([hello])
            ahead = {"session": session, "seq": "2"}
            async with http.post(push, params=ahead, data=body) as r:
                assert r.status == 409
                assert (await r.json())["code"] == "sync_push_out_of_order"
            for params, data, status in [
                ({"session": session, "seq": "x"}, body, 400),
                ({"session": session, "seq": "1"}, b"\x00\x00\x00\x09ab", 400),
            ]:
                async with http.post(push, params=params, data=data) as r:
                    assert r.status == status, await r.text()
            await wait_for(lambda: connection.finished, "the session to end on a bad upload")
            assert connection.closed is not None and "bad upload" in connection.closed.reason
            assert sum(b.peers.faults.values()) == 1
        async with http.get(f"{b.url}/health") as r:
            assert r.status == 200
