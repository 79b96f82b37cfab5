"""Cluster invites: the one-time string an operator hands to a new node, and the node-local file
of the invites a root node has issued.

An invite is `pe1.` + base64url(CBOR [1, cluster_id, [url, ...], secret, expires_ms]): the
cluster to join, where to join it, a 32-byte random secret, and when it stops working. The
issuing node keeps only the secret's SHA-256, with the expiry and the roles the certificate
will carry, in `keys/cluster-invites.json` (0600). That is node-local state, never an event:
the file is shared by `performer cluster invite` and a running server (which burns an invite
when a node joins with it), each read-modify-write under an exclusive lock on
`keys/cluster-invites.lock`, so it works whether or not the node is serving.

The joining node proves it holds its key by signing `cluster_id || secret || node_id`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cbor2

from performer_edge.core.datadir import DataDir
from performer_edge.core.secrets import write_secret_file
from performer_edge.errors import Conflict, DataDirError, Forbidden, InvalidInput

PREFIX = "pe1."
INVITE_FORMAT = 1
SECRET_BYTES = 32
MAX_INVITE_CHARS = 8192
ROLES = ("node", "hub")
INVITES_FILE = "cluster-invites.json"
LOCK_FILE = "cluster-invites.lock"
KEEP_SPENT_MS = 7 * 24 * 3600 * 1000  # used or expired invites are forgotten after a week


@dataclass(frozen=True)
class Invite:
    cluster_id: bytes
    urls: tuple[str, ...]
    secret: bytes
    expires_ms: int

    def encode(self) -> str:
        body = cbor2.dumps(
            [INVITE_FORMAT, self.cluster_id, list(self.urls), self.secret, self.expires_ms]
        )
        return PREFIX + base64.urlsafe_b64encode(body).rstrip(b"=").decode()


def decode(text: str) -> Invite:
    """The invite in `text`, or InvalidInput saying why it is not one."""
    text = text.strip()
    if not text.startswith(PREFIX) or len(text) > MAX_INVITE_CHARS:
        raise InvalidInput("not a Performer cluster invite (it should start with 'pe1.')")
    try:
        raw = b64url_decode(text[len(PREFIX) :])
        version, cluster_id, urls, secret, expires_ms = cbor2.loads(raw)
    except Exception as exc:  # cbor2 raises several types; all mean "damaged"
        raise InvalidInput("the invite is damaged (was it copied whole?)") from exc
    valid = (
        version == INVITE_FORMAT
        and isinstance(cluster_id, bytes)
        and len(cluster_id) == 32
        and isinstance(urls, list)
        and urls
        and all(isinstance(u, str) and u.startswith(("http://", "https://")) for u in urls)
        and isinstance(secret, bytes)
        and len(secret) == SECRET_BYTES
        and type(expires_ms) is int
    )
    if not valid:
        raise InvalidInput("the invite is damaged (was it copied whole?)")
    return Invite(cluster_id, tuple(urls), secret, expires_ms)


def proof_message(cluster_id: bytes, secret: bytes, node_id: bytes) -> bytes:
    """What a joining node signs with its key: `cluster_id || secret || node_id`."""
    return cluster_id + secret + node_id


def secret_hash(secret: bytes) -> str:
    return hashlib.sha256(secret).hexdigest()


def parse_roles(text: str) -> tuple[str, ...]:
    """`node`, `hub` or `node,hub`; a hub is also a node."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in ROLES]
    if not names or unknown:
        raise InvalidInput(f"roles must be among {', '.join(ROLES)}, not {text!r}")
    return tuple(role for role in ROLES if role in names or role == "node")


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    if not isinstance(text, str):
        raise ValueError("expected a base64url string")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc


# -- the issuing node's file -------------------------------------------------------------------


class InviteBook:
    """The invites this node issued (hashes only), in `keys/cluster-invites.json`."""

    def __init__(self, data_dir: DataDir) -> None:
        self.path = data_dir.keys_dir / INVITES_FILE
        self.lock_path = data_dir.keys_dir / LOCK_FILE
        self._next_block = 1  # read with the entries, under the lock

    def issue(
        self,
        cluster_id: bytes,
        urls: tuple[str, ...],
        roles: tuple[str, ...],
        now_ms: int,
        expires_ms: int,
    ) -> Invite:
        """A new invite; only its secret's hash is written down."""
        invite = Invite(cluster_id, urls, secrets.token_bytes(SECRET_BYTES), expires_ms)
        entry = {
            "secret_sha256": secret_hash(invite.secret),
            "cluster_id": cluster_id.hex(),
            "roles": list(roles),
            "created_ms": now_ms,
            "expires_ms": expires_ms,
            "used_ms": None,
            "used_by": None,
        }
        with self._locked():
            entries = [e for e in self._read() if not _spent_long_ago(e, now_ms)]
            entries.append(entry)
            self._write(entries)
        return invite

    def redeem(
        self, cluster_id: bytes, secret: bytes, node_id: bytes, now_ms: int
    ) -> tuple[list[str], int]:
        """Burn the invite for `node_id`; the roles its certificate gets and its identity block
        (the next one: blocks are never given twice, 0 being the root's). Forbidden or Conflict
        (with a code) when the invite is unknown, used, expired or for another cluster."""
        wanted = secret_hash(secret)
        with self._locked():
            entries = self._read()
            block = self._next_block
            entry = next((e for e in entries if e.get("secret_sha256") == wanted), None)
            if entry is None:
                raise Forbidden(
                    "unknown invite (it was not issued by this node)", code="invite_invalid"
                )
            if entry.get("cluster_id") != cluster_id.hex():
                raise Conflict(
                    "the invite is for another cluster than this node's", code="wrong_cluster"
                )
            if entry.get("used_ms") is not None:
                raise Forbidden("the invite has already been used", code="invite_used")
            if now_ms >= int(entry.get("expires_ms", 0)):
                raise Forbidden("the invite has expired", code="invite_expired")
            entry["used_ms"] = now_ms
            entry["used_by"] = node_id.hex()
            entry["block"] = block
            self._next_block = block + 1
            self._write(entries)
        return [str(role) for role in entry.get("roles", ["node"])], block

    def pending(self, now_ms: int) -> int:
        """How many issued invites are neither used nor expired."""
        with self._locked():
            entries = self._read()
        return sum(1 for e in entries if e.get("used_ms") is None and now_ms < e["expires_ms"])

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise DataDirError(f"cannot open {self.lock_path}: {exc.strerror or exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _read(self) -> list[dict[str, Any]]:
        self._next_block = 1
        if not self.path.exists():
            return []
        try:
            stored = json.loads(self.path.read_bytes())
            entries = stored["invites"]
            if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
                raise TypeError("invites must be a list of objects")
            given = [int(e["block"]) for e in entries if isinstance(e.get("block"), int)]
            self._next_block = max([int(stored.get("next_block", 1)), *(b + 1 for b in given)])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataDirError(f"cluster invites {self.path} are unusable: {exc}") from exc
        return entries

    def _write(self, entries: list[dict[str, Any]]) -> None:
        stored = {"invites": entries, "next_block": self._next_block}
        try:
            write_secret_file(str(self.path), json.dumps(stored).encode())
        except OSError as exc:
            raise DataDirError(f"cannot write {self.path}: {exc.strerror or exc}") from exc


def _spent_long_ago(entry: dict[str, Any], now_ms: int) -> bool:
    ended = entry.get("used_ms") or entry.get("expires_ms") or 0
    return isinstance(ended, int) and ended + KEEP_SPENT_MS < now_ms
