"""The node's Ed25519 identity: the node id is the public key; it signs every local event."""

from __future__ import annotations

from dataclasses import dataclass

from nacl.signing import SigningKey

from performer_edge.core.secrets import read_secret_file, write_secret_file


@dataclass(frozen=True)
class NodeIdentity:
    signing_key: SigningKey

    @property
    def public_key(self) -> bytes:
        return bytes(self.signing_key.verify_key)

    @property
    def node_id(self) -> str:
        """The public key in hex: the node's name everywhere (logs, health, peers)."""
        return self.public_key.hex()

    @property
    def short_id(self) -> str:
        return self.node_id[:12]

    @classmethod
    def generate(cls) -> NodeIdentity:
        return cls(SigningKey.generate())

    @classmethod
    def load(cls, path: str) -> NodeIdentity:
        seed = read_secret_file(path)
        if len(seed) != 32:
            raise ValueError(f"{path}: expected a 32-byte Ed25519 seed, found {len(seed)} bytes")
        return cls(SigningKey(seed))

    def save(self, path: str) -> None:
        write_secret_file(path, bytes(self.signing_key))
