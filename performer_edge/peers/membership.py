"""This node's cluster membership on disk: which cluster, its certificate, and (on the node
that made the cluster) the root key.

Files in the data dir's `keys/` (0600, like the other keys):
- `cluster.json`: `{"cluster_id": hex, "certificate": base64}`, written by `cluster init` and
  `cluster join`. A node without it syncs with nobody.
- `cluster-root.ed25519`: the root's 32-byte seed, only on the node that ran `cluster init`;
  it issues certificates (invites) and signs revocations.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from nacl.signing import SigningKey

from performer_edge.core.datadir import DataDir
from performer_edge.core.identity import NodeIdentity
from performer_edge.core.secrets import read_secret_file, write_secret_file
from performer_edge.errors import DataDirError
from performer_edge.peers import trust

MEMBERSHIP_FILE = "cluster.json"
ROOT_KEY_FILE = "cluster-root.ed25519"


@dataclass(frozen=True)
class Membership:
    cluster_id: bytes
    certificate: bytes

    @property
    def roles(self) -> tuple[str, ...]:
        return trust.parse(self.certificate).roles

    @property
    def block(self) -> int | None:
        """This node's identity block (None: a certificate from before blocks existed)."""
        return trust.parse(self.certificate).block


def load(data_dir: DataDir) -> Membership | None:
    path = data_dir.keys_dir / MEMBERSHIP_FILE
    if not path.exists():
        return None
    try:
        stored = json.loads(read_secret_file(str(path)))
        membership = Membership(
            bytes.fromhex(stored["cluster_id"]), base64.b64decode(stored["certificate"])
        )
        trust.parse(membership.certificate)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataDirError(f"cluster membership {path} is unusable: {exc}") from exc
    return membership


def save(data_dir: DataDir, membership: Membership) -> None:
    stored = {
        "cluster_id": membership.cluster_id.hex(),
        "certificate": base64.b64encode(membership.certificate).decode(),
    }
    write_secret_file(str(data_dir.keys_dir / MEMBERSHIP_FILE), json.dumps(stored).encode())


def load_root(data_dir: DataDir) -> SigningKey | None:
    path = data_dir.keys_dir / ROOT_KEY_FILE
    if not path.exists():
        return None
    seed = read_secret_file(str(path))
    if len(seed) != 32:
        raise DataDirError(f"cluster root key {path} must be a 32-byte seed")
    return SigningKey(seed)


def create_cluster(data_dir: DataDir, identity: NodeIdentity, now_ms: int) -> Membership:
    """Make a cluster with this node as its first member (holding the root key)."""
    if load(data_dir) is not None:
        raise DataDirError(f"{data_dir.root} already belongs to a cluster")
    root = SigningKey.generate()
    write_secret_file(str(data_dir.keys_dir / ROOT_KEY_FILE), bytes(root))
    certificate = trust.issue(root, identity.public_key, now_ms, roles=("node", "root"), block=0)
    membership = Membership(bytes(root.verify_key), certificate)
    save(data_dir, membership)
    return membership
