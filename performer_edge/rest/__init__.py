"""Database capability: the PostgREST-compatible `/rest/v1` API over SQLite projections.

`query*.py` parse requests, `migrate_*.py` translate schema migrations, `catalog.py` describes it.
"""
