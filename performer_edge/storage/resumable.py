"""Resumable uploads in progress (TUS): node-local state under `DIR/uploads`, never an event.

An upload is two files: `<id>.json`, what its creation request said (bucket, name, length,
content type, who created it), and `<id>.part`, the bytes received so far, appended as they
arrive; the part file's size is the upload's offset, so bytes written before a dropped
connection (or a crash) count and the client resumes after them. Once complete, the part file
is streamed into the blob store like any upload and both files go. An upload idle for
`expiry` seconds is expired: refused, and its files removed by `expire` (the node's
maintenance pass). Only the HTTP layer (`api_resumable`) drives this module.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from aiohttp.http_exceptions import PayloadEncodingError

from performer_edge.errors import NotFound
from performer_edge.storage import errors

WRITE_BATCH = 1024 * 1024
READ_CHUNK = 1024 * 1024
_ID = re.compile(r"^[A-Za-z0-9_-]{32}$")


def upload_not_found() -> NotFound:
    return NotFound("Upload not found", code="NoSuchUpload")


@dataclass(frozen=True)
class ResumableUpload:
    id: str
    bucket_id: str
    name: str
    length: int
    mimetype: str
    cache_control: str
    user_metadata: Any
    upsert: bool
    # role and subject of the creator (`signed:<owner>` for a signed upload's token holder):
    # only they may continue the upload
    principal: str
    expires_at: float


class ResumableUploads:
    def __init__(self, root: Path, expiry: int) -> None:
        self.root = root
        self.expiry = expiry
        self._locks: dict[str, asyncio.Lock] = {}

    def _paths(self, upload_id: str) -> tuple[Path, Path]:
        return self.root / f"{upload_id}.json", self.root / f"{upload_id}.part"

    # -- state ---------------------------------------------------------------------------------

    def create(self, **fields: Any) -> ResumableUpload:
        upload = ResumableUpload(
            id=secrets.token_urlsafe(24), expires_at=time.time() + self.expiry, **fields
        )
        self.root.mkdir(parents=True, exist_ok=True)
        self._paths(upload.id)[1].touch(mode=0o600, exist_ok=False)
        self._save(upload)
        return upload

    def _save(self, upload: ResumableUpload) -> None:
        """Atomically (a temp file renamed over): a crash leaves the old record or the new."""
        info, _ = self._paths(upload.id)
        temp = info.with_suffix(".json.tmp")
        temp.write_text(json.dumps(asdict(upload)))
        os.replace(temp, info)

    def get(self, upload_id: str, principal: str) -> ResumableUpload:
        """The caller's live upload; NotFound for an unknown, expired or foreign one."""
        upload = self.load(upload_id)
        if upload.principal != principal:
            raise upload_not_found()
        return upload

    def load(self, upload_id: str) -> ResumableUpload:
        """A live upload, whoever made it (a signed upload's token is checked against its
        object before `principal` is); NotFound for an unknown or expired one."""
        if not _ID.match(upload_id):
            raise upload_not_found()
        info, part = self._paths(upload_id)
        try:
            upload = ResumableUpload(**json.loads(info.read_text()))
        except (OSError, ValueError, TypeError):
            raise upload_not_found() from None
        if upload.expires_at < time.time() or not part.exists():
            raise upload_not_found()
        return upload

    def offset(self, upload: ResumableUpload) -> int:
        try:
            return self._paths(upload.id)[1].stat().st_size
        except FileNotFoundError:
            raise upload_not_found() from None

    def lock(self, upload_id: str) -> asyncio.Lock:
        """One PATCH at a time per upload (a resumed client may overtake its dropped request)."""
        return self._locks.setdefault(upload_id, asyncio.Lock())

    def remove(self, upload_id: str) -> None:
        for path in self._paths(upload_id):
            path.unlink(missing_ok=True)
        self._locks.pop(upload_id, None)

    def expire(self, now: float | None = None) -> int:
        """Remove uploads idle past their expiry (and stray files of a crashed save); how many."""
        now = time.time() if now is None else now
        removed = 0
        if not self.root.is_dir():
            return 0
        for info in self.root.glob("*.json"):
            try:
                expires_at = float(json.loads(info.read_text())["expires_at"])
            except (OSError, ValueError, KeyError, TypeError):
                expires_at = info.stat().st_mtime + self.expiry
            if expires_at < now:
                self.remove(info.stem)
                removed += 1
        for stray in self.root.glob("*.part"):
            if (
                not stray.with_suffix(".json").exists()
                and stray.stat().st_mtime + self.expiry < now
            ):
                stray.unlink(missing_ok=True)
        return removed

    # -- bytes ---------------------------------------------------------------------------------

    async def append(self, upload: ResumableUpload, chunks: AsyncIterator[bytes]) -> int:
        """Append the request's bytes (never past the declared length); the new offset. Bytes
        received before the client went away are kept, so it can resume after them."""
        _, part = self._paths(upload.id)
        room = upload.length - self.offset(upload)
        pending = bytearray()
        try:
            async for chunk in chunks:
                if len(chunk) > room:
                    raise errors.invalid_request("the upload is longer than its Upload-Length")
                room -= len(chunk)
                pending += chunk
                if len(pending) >= WRITE_BATCH:
                    batch, pending = bytes(pending), bytearray()
                    await asyncio.to_thread(_append_bytes, part, batch)
                    self._save(replace(upload, expires_at=time.time() + self.expiry))
        except (ConnectionResetError, PayloadEncodingError):
            pass  # the client went away mid-request: keep what came, it resumes from there
        finally:
            if pending:  # also when the connection dropped or the request was cancelled
                _append_bytes(part, bytes(pending))
            self._save(replace(upload, expires_at=time.time() + self.expiry))
        return self.offset(upload)

    async def read(self, upload: ResumableUpload) -> AsyncIterator[bytes]:
        """The complete upload's bytes, a chunk at a time, for the blob store."""
        file = await asyncio.to_thread(self._paths(upload.id)[1].open, "rb")
        try:
            while chunk := await asyncio.to_thread(file.read, READ_CHUNK):
                yield chunk
        finally:
            file.close()


def _append_bytes(path: Path, data: bytes) -> None:
    with open(path, "ab") as file:
        file.write(data)
