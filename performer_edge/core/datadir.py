"""The data directory: its layout, its lock, and the key material made on first use.

Layout: `performer.db` (event log and projections), `keys/` (node key, JWT key, API keys, 0600),
`node.json` (public facts), `performer.lock` (held by the serving process).
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from performer_edge.core.identity import NodeIdentity
from performer_edge.core.secrets import read_secret_file, write_secret_file
from performer_edge.core.tokens import (
    TokenKeys,
    api_key_claims,
    generate_es256_key,
    private_key_from_pem,
    private_key_to_pem,
)
from performer_edge.errors import DataDirError

API_ROLES = ("anon", "service_role")
ISSUER = "performer"


@dataclass(frozen=True)
class ApiKeys:
    anon_key: str
    service_role_key: str

    def as_dict(self) -> dict[str, str]:
        return {"anon_key": self.anon_key, "service_role_key": self.service_role_key}


class DataDir:
    """Paths inside one data directory, and the operations that create or guard them."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.db_path = self.root / "performer.db"
        self.keys_dir = self.root / "keys"
        self.node_key_path = self.keys_dir / "node.ed25519"
        self.jwt_key_path = self.keys_dir / "jwt-es256.pem"
        self.api_keys_path = self.keys_dir / "api-keys.json"
        self.auth_secret_path = self.keys_dir / "auth-secrets.key"
        self.node_info_path = self.root / "node.json"
        self.lock_path = self.root / "performer.lock"
        self.snapshots_dir = self.root / "snapshots"
        self._lock_fd: int | None = None

    def is_initialized(self) -> bool:
        return self.node_key_path.exists()

    def ensure_writable(self) -> None:
        """Create the directory if needed and prove a file can be written in it."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            if not self.root.is_dir():
                raise DataDirError(f"data dir {self.root} is not a directory")
            probe = self.root / f".write-probe-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise DataDirError(
                f"data dir {self.root} is not writable: {exc.strerror or exc}"
            ) from exc

    def initialize(self) -> bool:
        """Make the node key, the JWT key and the API keys if missing. True if anything was made."""
        self.ensure_writable()
        made = False
        try:
            self.keys_dir.mkdir(mode=0o700, exist_ok=True)
            if not self.node_key_path.exists():
                NodeIdentity.generate().save(str(self.node_key_path))
                made = True
            if not self.jwt_key_path.exists():
                write_secret_file(str(self.jwt_key_path), private_key_to_pem(generate_es256_key()))
                made = True
            identity = self.load_identity()
            if not self.node_info_path.exists():
                info = {"node_id": identity.node_id, "created_at": int(time.time())}
                write_secret_file(str(self.node_info_path), json.dumps(info).encode())
                os.chmod(self.node_info_path, 0o644)
                made = True
            if not self.auth_secret_path.exists():
                write_secret_file(str(self.auth_secret_path), os.urandom(32))
                made = True
            if not self.api_keys_path.exists():
                keys = self.load_token_keys(None)
                issued_at = int(self.node_info()["created_at"])
                stored = {
                    role: keys.sign(api_key_claims(role, issued_at, ISSUER)) for role in API_ROLES
                }
                write_secret_file(str(self.api_keys_path), json.dumps(stored).encode())
                made = True
        except OSError as exc:
            raise DataDirError(f"cannot initialize data dir {self.root}: {exc}") from exc
        return made

    def require_initialized(self) -> None:
        if not self.root.exists():
            raise DataDirError(f"data dir {self.root} does not exist (run `performer init`)")
        if not self.is_initialized():
            raise DataDirError(f"data dir {self.root} is not initialized (run `performer init`)")

    def node_info(self) -> dict[str, Any]:
        try:
            info = json.loads(self.node_info_path.read_text())
        except (OSError, ValueError) as exc:
            raise DataDirError(f"{self.node_info_path} is unreadable: {exc}") from exc
        if not isinstance(info, dict):
            raise DataDirError(f"{self.node_info_path} is not a JSON object")
        return info

    def load_identity(self) -> NodeIdentity:
        try:
            return NodeIdentity.load(str(self.node_key_path))
        except (OSError, ValueError) as exc:
            raise DataDirError(f"node key {self.node_key_path} is unusable: {exc}") from exc

    def auth_secret_key(self) -> bytes:
        """The 32-byte key that seals recoverable auth secrets (TOTP) at rest."""
        try:
            key = read_secret_file(str(self.auth_secret_path))
        except OSError as exc:
            raise DataDirError(
                f"auth secret key {self.auth_secret_path} is unusable: {exc}"
            ) from exc
        if len(key) != 32:
            raise DataDirError(f"auth secret key {self.auth_secret_path} must be 32 bytes")
        return key

    def load_token_keys(self, jwt_secret: str | None) -> TokenKeys:
        try:
            signing = private_key_from_pem(read_secret_file(str(self.jwt_key_path)))
        except (OSError, ValueError) as exc:
            raise DataDirError(f"JWT key {self.jwt_key_path} is unusable: {exc}") from exc
        return TokenKeys(signing, jwt_secret.encode() if jwt_secret else None)

    def api_keys(self, keys: TokenKeys) -> ApiKeys:
        """The anon and service_role keys. With a JWT secret they are HS256 and derived from it."""
        if keys.hs256_secret:
            issued_at = int(self.node_info()["created_at"])
            signed = {
                role: keys.sign(api_key_claims(role, issued_at, ISSUER)) for role in API_ROLES
            }
            return ApiKeys(signed["anon"], signed["service_role"])
        try:
            stored = json.loads(read_secret_file(str(self.api_keys_path)))
            return ApiKeys(stored["anon"], stored["service_role"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataDirError(f"API keys {self.api_keys_path} are unusable: {exc}") from exc

    def acquire_lock(self) -> None:
        """Hold an exclusive lock for this process's life; a second server on the dir fails."""
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise DataDirError(f"cannot create lock file {self.lock_path}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DataDirError(
                f"data dir {self.root} is in use by another performer process (pid {holder})"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd

    def release_lock(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def lock_holder(self) -> int | None:
        """The pid of the process serving this data dir, or None when nobody holds the lock."""
        if not self.lock_path.exists():
            return None
        fd = os.open(self.lock_path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.read(fd, 32).decode(errors="replace").strip()
            return int(text) if text.isdigit() else -1
        finally:
            os.close(fd)
        return None
