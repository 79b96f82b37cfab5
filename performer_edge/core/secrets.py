"""Secret files: created atomically with mode 0600 (temp file, fsync, rename, fsync dir)."""

from __future__ import annotations

import os


def write_secret_file(path: str, data: bytes) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    tmp = f"{path}.tmp.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_secret_file(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()
