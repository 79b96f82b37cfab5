"""Per-connection setup for tables made by migrations: the SQL functions their SQL calls.

Registered on every connection the node opens (writer and readers), before any query runs.
"""

from __future__ import annotations

from collections.abc import Callable

import apsw

from performer_edge.rest.compile_fts import to_tsvector
from performer_edge.rest.compile_fts_index import fts_document
from performer_edge.rest.migrate_runtime import (
    FTS_DOCUMENT,
    PURE_FUNCTIONS,
    TO_TSVECTOR,
    TSVECTOR_CONCAT,
)
from performer_edge.rest.tsvector import concat_tsvectors

# Full-text search: generated tsvector columns and the triggers filling FTS5 tables call these.
_TEXT_SEARCH: dict[str, tuple[int, Callable[..., object]]] = {
    TO_TSVECTOR: (2, to_tsvector),
    FTS_DOCUMENT: (1, fts_document),
    TSVECTOR_CONCAT: (2, concat_tsvectors),
}


def install_pure_functions(conn: apsw.Connection) -> None:
    """The request-independent functions (storage_foldername, regexp, to_tsvector, ...)."""
    for name, (arity, implementation) in {**PURE_FUNCTIONS, **_TEXT_SEARCH}.items():
        conn.create_scalar_function(name, implementation, arity, deterministic=True)
