"""Password hashing with argon2id (libsodium through PyNaCl).

Parameters follow OWASP's argon2id minimum (19 MiB memory, 2 passes, 1 lane): ~20-40 ms per hash
on a small edge box, so two cores still sign in dozens of users a second, while an offline
guess costs an attacker the same memory-hard work. Hashes are self-describing (`$argon2id$...`),
so stronger parameters later still verify old hashes.
"""

from __future__ import annotations

import asyncio
from functools import cache

from nacl import pwhash
from nacl.exceptions import InvalidkeyError

OPSLIMIT = 2
MEMLIMIT = 19 * 1024 * 1024


@cache
def _dummy_hash() -> bytes:
    """Verified when the user does not exist, so "no such user" costs as long as "wrong
    password". Made on first use: hashing at import would slow every start by ~20 ms."""
    hashed: bytes = pwhash.argon2id.str(b"performer-dummy", opslimit=OPSLIMIT, memlimit=MEMLIMIT)
    return hashed


def hash_password(password: str) -> str:
    hashed: bytes = pwhash.argon2id.str(password.encode(), opslimit=OPSLIMIT, memlimit=MEMLIMIT)
    return hashed.decode()


def verify_password(hashed: str | None, password: str) -> bool:
    target = hashed.encode() if hashed else _dummy_hash()
    try:
        ok = bool(pwhash.verify(target, password.encode()))
    except (InvalidkeyError, ValueError, TypeError):
        return False
    return ok and hashed is not None


async def hash_password_async(password: str) -> str:
    """Hash off the event loop: libsodium releases the GIL, so hashes run in parallel."""
    return await asyncio.to_thread(hash_password, password)


async def verify_password_async(hashed: str | None, password: str) -> bool:
    return await asyncio.to_thread(verify_password, hashed, password)
