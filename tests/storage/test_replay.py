"""Storage state is a projection of the log: after `performer replay` (every table rebuilt from
events) buckets, SQL-declared buckets and objects read back exactly as before."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from conftest import performer_command, start_serving, stop_serving
from supabase import create_client

from .conftest import MIGRATIONS


def test_replay_rebuilds_buckets_and_objects(tmp_path: Path) -> None:
    data = tmp_path / "data"
    content = os.urandom(3000)
    first = start_serving(data, "--migrations", str(MIGRATIONS))
    try:
        client = create_client(first.url, first.key("service_role"))
        client.storage.create_bucket("kept", options={"public": True, "file_size_limit": "10KB"})
        files = client.storage.from_("kept")
        files.upload("a/one.bin", content)
        files.upload("a/two.bin", b"two")
        files.move("a/two.bin", "b/two.bin")
        files.remove(["a/one.bin"])
        files.upload("a/one.bin", content[:100])
        before = files.list_v2({"prefix": ""}).objects
        seeded = client.storage.get_bucket("avatars").created_at
    finally:
        stop_serving(first)
    subprocess.run(
        performer_command("replay", "--data", str(data)), check=True, capture_output=True
    )
    second = start_serving(data, "--migrations", str(MIGRATIONS))
    try:
        client = create_client(second.url, second.key("service_role"))
        files = client.storage.from_("kept")
        after = files.list_v2({"prefix": ""}).objects
        assert [(o.id, o.name, o.updated_at) for o in after] == [
            (o.id, o.name, o.updated_at) for o in before
        ]
        assert files.download("a/one.bin") == content[:100]
        assert files.download("b/two.bin") == b"two"
        assert client.storage.get_bucket("kept").file_size_limit == 10_000
        assert client.storage.get_bucket("avatars").created_at == seeded
    finally:
        stop_serving(second)
