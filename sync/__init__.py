"""The Performer sync protocol, sans-IO: bytes in, events out, bytes to send; time is an argument.

Imports nothing from `performer_edge` and does no I/O.
"""

from sync.version_vector import VersionVector

__all__ = ["VersionVector"]
