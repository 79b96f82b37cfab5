"""Per-connection setup for tables made by migrations: the SQL functions their SQL calls.

Registered on every connection the node opens (writer and readers), before any query runs.
"""

from __future__ import annotations

import apsw

from performer_edge.rest.migrate_runtime import PURE_FUNCTIONS


def install_pure_functions(conn: apsw.Connection) -> None:
    """The request-independent functions (storage_foldername, regexp, ...)."""
    for name, (arity, implementation) in PURE_FUNCTIONS.items():
        conn.create_scalar_function(name, implementation, arity, deterministic=True)
