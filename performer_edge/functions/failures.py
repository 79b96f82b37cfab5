"""Why an invocation produced no response: one stable reason code per limit or fault.

Each reason has the HTTP status the invoke endpoint answers with (README, Functions). Limits
follow Supabase's gateway: 546 for a resource limit, 504 for the wall clock.
"""

from __future__ import annotations

from typing import Final

RESOURCE_LIMIT: Final = 546

STATUS_BY_REASON: dict[str, int] = {
    "request_too_large": 413,
    "timeout": 504,
    "cpu_limit": RESOURCE_LIMIT,
    "memory_limit": RESOURCE_LIMIT,
    "stack_overflow": RESOURCE_LIMIT,
    "output_too_large": RESOURCE_LIMIT,
    "log_too_large": RESOURCE_LIMIT,
    "trap": 500,
    "exit_nonzero": 500,
    "bad_pointer": 500,
    "bad_response": 500,
    "instantiate_failed": 500,
}


class FunctionFailed(Exception):
    """The function ran and failed, or hit a limit; `reason` is a key of STATUS_BY_REASON.
    `detail` is for the node's log only (it may hold a wasm backtrace)."""

    def __init__(self, reason: str, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        assert reason in STATUS_BY_REASON, reason
        self.reason = reason
        self.message = message
        self.detail = detail

    @property
    def status(self) -> int:
        return STATUS_BY_REASON[self.reason]
