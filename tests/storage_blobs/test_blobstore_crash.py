"""Crash simulation: a process killed mid-upload leaves no visible blob, only a temp file."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import storage_blobs
from storage_blobs import BlobStore

PROJECT_ROOT = Path(storage_blobs.__file__).resolve().parent.parent

CRASHING_UPLOAD = textwrap.dedent(
    """
    import os, sys
    from storage_blobs import BlobStore

    def chunks():
        for _ in range(3):
            yield b"z" * 100_000
        sys.stdout.write("crashing\\n")
        sys.stdout.flush()
        os._exit(17)  # no cleanup, no finally blocks: like SIGKILL or power loss

    BlobStore(sys.argv[1]).put_stream(chunks())
    """
)


def run_child(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_killed_upload_leaves_only_a_temp_file(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    result = run_child(CRASHING_UPLOAD, str(root))
    assert result.returncode == 17, result.stderr
    assert result.stdout == "crashing\n"

    store = BlobStore(root)
    full = hashlib.sha256(b"z" * 300_000).hexdigest()
    assert list(store.list()) == []
    assert not store.has(full)
    leftovers = list((root / "tmp").iterdir())
    assert len(leftovers) == 1
    assert leftovers[0].name.startswith("put-")
    assert leftovers[0].stat().st_size == 300_000  # the partial upload, invisible to readers

    assert store.cleanup_tmp().removed == 0  # too recent: could be a live upload
    then = time.time() - 2 * 86400
    os.utime(leftovers[0], (then, then))
    report = store.cleanup_tmp()
    assert (report.removed, report.bytes_freed) == (1, 300_000)
    assert list((root / "tmp").iterdir()) == []

    # The same content uploads cleanly afterwards.
    assert store.put_stream([b"z" * 100_000] * 3).hash == full


def test_concurrent_processes_put_same_content(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    BlobStore(root)
    script = textwrap.dedent(
        """
        import sys
        from storage_blobs import BlobStore
        store = BlobStore(sys.argv[1])
        results = [store.put_stream([b"shared" * 50_000, b"!"]) for _ in range(20)]
        print(sum(not r.deduplicated for r in results), results[0].hash)
        """
    )
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(root)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    created = [int(out.split()[0]) for out, _ in outputs]
    hashes = {out.split()[1] for out, _ in outputs}
    expected = hashlib.sha256(b"shared" * 50_000 + b"!").hexdigest()
    assert hashes == {expected}
    assert sum(created) == 1  # exactly one upload created the file; all others deduplicated
    store = BlobStore(root)
    assert list(store.list()) == [expected]
    assert store.verify(expected)
    assert list((root / "tmp").iterdir()) == []
