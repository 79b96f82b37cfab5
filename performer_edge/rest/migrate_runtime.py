"""SQLite functions that translated SQL calls: the names a connection must register, and pure
implementations of the ones that do not depend on the request.

Imports nothing from `performer_edge`; the request layer registers these on each connection.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from types import MappingProxyType

# Per request: their value comes from the caller's principal, so the request layer registers
# them (or binds them) for each query. Policies, views and SQL function bodies call them.
AUTH_UID = "auth_uid"  # () → the JWT `sub` as text, NULL for anon: auth.uid()
AUTH_ROLE = "auth_role"  # () → 'anon' | 'authenticated' | 'service_role': auth.role()
AUTH_JWT = "auth_jwt"  # () → the JWT claims as JSON text: auth.jwt(), request.jwt.claims
# () → the topic a Realtime channel authorization is about (policies on realtime.messages)
REALTIME_TOPIC = "realtime_topic"
REQUEST_FUNCTIONS: Mapping[str, int] = MappingProxyType({AUTH_UID: 0, AUTH_ROLE: 0, AUTH_JWT: 0})

STORAGE_FOLDERNAME = "storage_foldername"  # (name) → JSON array of the folders in an object path
STORAGE_FILENAME = "storage_filename"  # (name) → the last path segment
STORAGE_EXTENSION = "storage_extension"  # (name) → text after the last dot of the file name
REGEXP = "regexp"  # (pattern, value) → 1/0; SQLite calls it for `value REGEXP pattern` (`~`, `~*`)

# Full-text search (implemented in compile_fts and compile_fts_index, registered by connection).
TO_TSVECTOR = "to_tsvector"  # (config, text) → the tsvector's text form: to_tsvector()
FTS_DOCUMENT = "fts_document"  # (tsvector) → what a GIN index's FTS5 table stores for the row
TSVECTOR_CONCAT = "tsvector_concat"  # (tsvector, tsvector) → tsvector: `a || b` on tsvectors
# FTS5 tables hold ASCII tokens (compile_fts_index), `_` counting as a letter.
FTS_TOKENIZER = "unicode61 remove_diacritics 0 tokenchars '_'"
FTS_NULL_TOKEN = "_0"  # the FTS5 document of a NULL tsvector
DEFAULT_TEXT_SEARCH_CONFIG = "english"  # Supabase's default_text_search_config
# Postgres' built-in configurations; all but english and simple work as simple here.
TEXT_SEARCH_CONFIGS = frozenset(
    """simple english arabic armenian basque catalan danish dutch finnish french german greek
    hindi hungarian indonesian irish italian lithuanian nepali norwegian portuguese romanian
    russian serbian spanish swedish tamil turkish yiddish""".split()  # noqa: SIM905 (a word list)
)


def storage_foldername(name: str | None) -> str | None:
    """storage.foldername('a/b/c.png') = {a,b}, as a JSON array."""
    if name is None:
        return None
    return json.dumps(name.split("/")[:-1], ensure_ascii=False)


def storage_filename(name: str | None) -> str | None:
    return None if name is None else name.split("/")[-1]


def storage_extension(name: str | None) -> str | None:
    """storage.extension('a/b.tar.gz') = 'gz'; '' when the file name has no dot."""
    if name is None:
        return None
    filename = name.split("/")[-1]
    return filename.rsplit(".", 1)[1] if "." in filename else ""


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def regexp(pattern: str | None, value: object) -> int | None:
    """Postgres `~` on SQLite. Python's re is close to Postgres ARE for everyday patterns."""
    if pattern is None or value is None:
        return None
    return int(_compiled(pattern).search(str(value)) is not None)


# Deterministic helpers: name → (number of arguments, implementation).
PURE_FUNCTIONS: Mapping[str, tuple[int, Callable[..., object]]] = MappingProxyType(
    {
        STORAGE_FOLDERNAME: (1, storage_foldername),
        STORAGE_FILENAME: (1, storage_filename),
        STORAGE_EXTENSION: (1, storage_extension),
        REGEXP: (2, regexp),
    }
)

# Connection settings the translated SQL assumes:
# - `PRAGMA foreign_keys = ON` (Postgres always enforces foreign keys);
# - double-quoted string literals off (apsw: `SQLITE_DBCONFIG_DQS_DML` and `_DDL` = 0), so a
#   misspelt quoted column is an error instead of a string;
# - `LIKE` is ASCII case-insensitive in SQLite but case-sensitive in Postgres: override the
#   `like` function (2 and 3 arguments) to match Postgres where that matters.
