"""Typed errors with stable codes, raised by capability code.

Only `performer_edge.http` maps them to a wire shape; nothing here knows about HTTP.
"""

from __future__ import annotations

from typing import Any, ClassVar


class PerformerError(Exception):
    """Base of every error the node raises on purpose. `code` is stable and documented."""

    code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = code or type(self).code
        self.details = details
        self.hint = hint


class InvalidInput(PerformerError):
    """The request or frame is malformed or violates a rule; retrying it unchanged fails again."""

    code = "invalid_input"


class Unauthorized(PerformerError):
    """No credentials, or credentials that do not verify (forged, expired, wrong algorithm)."""

    code = "unauthorized"


class Forbidden(PerformerError):
    """Valid credentials that do not allow this operation."""

    code = "forbidden"


class NotFound(PerformerError):
    code = "not_found"


class Conflict(PerformerError):
    code = "conflict"


class TooLarge(PerformerError):
    code = "too_large"


class RateLimited(PerformerError):
    code = "rate_limited"


class Unavailable(PerformerError):
    """The node cannot serve this right now (shutting down, writer stopped); retry later."""

    code = "unavailable"


class ConfigError(PerformerError):
    """A setting or config file is invalid. Commands exit with status 2."""

    code = "config_error"


class DataDirError(PerformerError):
    """The data directory cannot be used: unwritable, in use, foreign or corrupt files."""

    code = "data_dir_error"


class IntegrityError(PerformerError):
    """The event log breaks an invariant: bad signature, sequence gap, clock too far ahead."""

    code = "integrity_error"
