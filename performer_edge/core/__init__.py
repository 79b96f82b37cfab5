"""The node's core: event log, SQLite access, clocks, identity, keys, event bus.

Imports nothing from the capabilities, `http` or `cli`.
"""
