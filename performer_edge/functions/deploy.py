"""A deploy request parsed at the edge: name, module bytes, version, description, triggers,
permissions and limits, each checked with a clear error before anything is compiled.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from performer_edge.errors import InvalidInput, TooLarge
from performer_edge.functions.host_services import KNOWN_PERMISSIONS
from performer_edge.functions.limits import MIB, Limits
from performer_edge.functions.module_check import WASM_MAGIC
from performer_edge.functions.triggers import parse_trigger, split_triggers

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
RESERVED_NAMES = frozenset({"deploy"})  # `POST /functions/v1/deploy` is the deploy endpoint
# A deployment is one event carrying the module, and an event must fit one sync frame.
MAX_MODULE_BYTES = 3 * MIB
MAX_DESCRIPTION = 1000
MAX_TRIGGERS = 32


@dataclass(frozen=True)
class DeploySpec:
    name: str
    wasm: bytes
    version: str | None
    description: str
    triggers: tuple[str, ...]
    permissions: tuple[str, ...]
    limits: Limits


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name) or name in RESERVED_NAMES:
        raise InvalidInput(
            f"invalid function name {str(name)[:70]!r}: lowercase letters, digits, - and _, "
            f"at most 63 characters, not {', '.join(sorted(RESERVED_NAMES))}",
            code="invalid_function_name",
        )
    return name


def parse_spec(fields: Mapping[str, Any], wasm: bytes) -> DeploySpec:
    if len(wasm) > MAX_MODULE_BYTES:
        raise TooLarge(f"the module is over {MAX_MODULE_BYTES} bytes", code="module_too_large")
    if not wasm.startswith(WASM_MAGIC):
        raise InvalidInput(
            "the module is not WebAssembly binary (it must start with \\0asm)",
            code="invalid_module",
        )
    version = fields.get("version")
    if version is not None and (not isinstance(version, str) or not VERSION_PATTERN.match(version)):
        raise InvalidInput(
            "version must be 1-64 letters, digits, and . _ + -", code="invalid_version"
        )
    description = fields.get("description") or ""
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise InvalidInput(
            f"description must be a string of at most {MAX_DESCRIPTION} characters",
            code="invalid_description",
        )
    given = _strings(fields.get("triggers"), "triggers")
    if len(given) > MAX_TRIGGERS:
        raise InvalidInput(f"at most {MAX_TRIGGERS} triggers", code="invalid_triggers")
    triggers = tuple(dict.fromkeys(parse_trigger(t).text for t in given))
    return DeploySpec(
        name=check_name(fields.get("name")),
        wasm=wasm,
        version=version,
        description=description,
        triggers=triggers,
        permissions=tuple(
            sorted({_permission(p) for p in _strings(fields.get("permissions"), "permissions")})
        ),
        limits=Limits.parse(fields.get("limits")),
    )


def _strings(value: Any, what: str) -> Sequence[str]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = split_triggers(value) if what == "triggers" else [v for v in value.split(",") if v]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{what} must be a list of strings", code=f"invalid_{what}")
    return value


def _permission(value: str) -> str:
    if value not in KNOWN_PERMISSIONS:
        known = ", ".join(sorted(KNOWN_PERMISSIONS))
        raise InvalidInput(
            f"unknown permission {value!r} (known: {known})", code="invalid_permissions"
        )
    return value
