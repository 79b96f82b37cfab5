"""A `performer serve` node per test module, started with this folder's migrations (buckets
and policies declared in SQL), and supabase-py clients for it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import RunningNode, serve_module
from storage3.exceptions import StorageApiError
from supabase import Client

from performer_edge.core.tokens import TokenKeys, private_key_from_pem

MIGRATIONS = Path(__file__).parent / "migrations"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    yield from serve_module(tmp_path_factory, "storage", "--migrations", str(MIGRATIONS))


def data_dir(node: RunningNode) -> Path:
    line = next(x for x in node.banner.splitlines() if x.strip().startswith("data"))
    return Path(line.split()[-1])


def node_signing_keys(node: RunningNode) -> TokenKeys:
    """The node's own JWT key (from its data dir): tokens it would sign itself."""
    pem = (data_dir(node) / "keys" / "jwt-es256.pem").read_bytes()
    return TokenKeys(private_key_from_pem(pem))


def new_bucket(service: Client, **options: object) -> str:
    bucket_id = f"b-{uuid.uuid4().hex[:8]}"
    service.storage.create_bucket(bucket_id, options=options or None)  # type: ignore[arg-type]
    return bucket_id


def storage_error(call: object) -> StorageApiError:
    with pytest.raises(StorageApiError) as caught:
        call()  # type: ignore[operator]
    return caught.value


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    """Poll `condition` until it holds (failing after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
