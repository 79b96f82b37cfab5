"""The request headers that shape a PostgREST response: `Prefer`, `Accept` and `Range`.

Read as PostgREST reads them (Preferences.hs, MediaType.hs, RangeQuery.hs); pure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, cast, get_args

from performer_edge.rest.query_ast import Paging
from performer_edge.rest.query_scan import QueryParseError

ReturnPreference = Literal["representation", "minimal", "headers-only"]
CountPreference = Literal["exact", "planned", "estimated"]
ResolutionPreference = Literal["merge-duplicates", "ignore-duplicates"]
MissingPreference = Literal["default", "null"]
HandlingPreference = Literal["strict", "lenient"]
TxPreference = Literal["commit", "rollback"]
ParamsPreference = Literal["single-object"]
ResponseKind = Literal["json", "object", "csv", "plan", "openapi"]

# Preference name → the Literal of its values.
_ENUM_PREFERENCES: dict[str, object] = {
    "return": ReturnPreference,
    "count": CountPreference,
    "resolution": ResolutionPreference,
    "missing": MissingPreference,
    "handling": HandlingPreference,
    "tx": TxPreference,
    "params": ParamsPreference,
}


@dataclass(frozen=True, slots=True)
class Preferences:
    """The `Prefer` header. The first valid value of a preference wins, as in PostgREST."""

    returning: ReturnPreference | None = None
    count: CountPreference | None = None
    resolution: ResolutionPreference | None = None
    missing: MissingPreference | None = None
    handling: HandlingPreference | None = None
    max_affected: int | None = None
    tx: TxPreference | None = None
    params: ParamsPreference | None = None
    timezone: str | None = None
    invalid: tuple[str, ...] = ()
    """Tokens not understood; with `handling=strict` they are an error (PGRST122)."""


def parse_prefer(header_values: Sequence[str]) -> Preferences:
    """Parse every `Prefer` line: comma-separated `name=value` tokens, blanks ignored."""
    tokens = [token.strip() for value in header_values for token in value.split(",")]
    chosen: dict[str, str] = {}
    invalid: list[str] = []
    for token in filter(None, tokens):
        name, _, value = token.partition("=")
        if not _is_valid_preference(name, value):
            invalid.append(token)
        else:
            chosen.setdefault(name, value)
    max_affected = chosen.get("max-affected")
    preferences = Preferences(
        returning=cast(ReturnPreference | None, chosen.get("return")),
        count=cast(CountPreference | None, chosen.get("count")),
        resolution=cast(ResolutionPreference | None, chosen.get("resolution")),
        missing=cast(MissingPreference | None, chosen.get("missing")),
        handling=cast(HandlingPreference | None, chosen.get("handling")),
        max_affected=None if max_affected is None else int(max_affected),
        tx=cast(TxPreference | None, chosen.get("tx")),
        params=cast(ParamsPreference | None, chosen.get("params")),
        timezone=chosen.get("timezone"),
        invalid=tuple(invalid),
    )
    if preferences.handling == "strict" and invalid:
        raise QueryParseError(
            "Invalid preferences given with handling=strict",
            code="PGRST122",
            details="Invalid preferences: " + ", ".join(invalid),
        )
    return preferences


def _is_valid_preference(name: str, value: str) -> bool:
    if name in _ENUM_PREFERENCES:
        return value in get_args(_ENUM_PREFERENCES[name])
    if name == "max-affected":
        return re.fullmatch("[0-9]+", value) is not None
    return name == "timezone" and value != ""


# --- Accept --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResponseFormat:
    """What the client accepts, reduced to what PostgREST can produce.

    `plan_*` describe `application/vnd.pgrst.plan`: text or JSON, the media type the plan is
    for, and options such as `analyze`.
    """

    kind: ResponseKind = "json"
    strip_nulls: bool = False
    plan_format: Literal["text", "json"] = "text"
    plan_for: str = "application/json"
    plan_options: tuple[str, ...] = ()

    @property
    def mime(self) -> str:
        """The media type to answer with (add `; charset=utf-8` for Content-Type)."""
        if self.kind == "plan":
            options = "; options=" + "|".join(self.plan_options) if self.plan_options else ""
            return f'application/vnd.pgrst.plan+{self.plan_format}; for="{self.plan_for}"{options}'
        stripped = ";nulls=stripped" if self.strip_nulls else ""
        if self.kind == "json":
            return "application/vnd.pgrst.array+json" + stripped if stripped else "application/json"
        if self.kind == "object":
            return "application/vnd.pgrst.object+json" + stripped
        return "text/csv" if self.kind == "csv" else "application/openapi+json"


DEFAULT_OFFER: tuple[ResponseKind, ...] = ("json", "object", "csv", "plan")
PLAN_OPTIONS = ("analyze", "verbose", "settings", "buffers", "wal")


def parse_accept(
    header: str | None, offered: Sequence[ResponseKind] = DEFAULT_OFFER
) -> ResponseFormat:
    """The first media type of `Accept` (by q, then specificity) that is in `offered`.

    `*/*` or no header means `offered[0]` (JSON for tables, OpenAPI at the root). Nothing
    acceptable raises PGRST107 listing what was asked for.
    """
    if header is None or not header.strip():
        return ResponseFormat(offered[0])
    asked: list[str] = []
    for media_type in _by_preference(header):
        found = _decode_media_type(media_type, offered[0])
        if found is not None and found.kind in offered:
            return found
        asked.append(media_type if found is None else found.mime)
    raise QueryParseError(
        "None of these media types are available: " + ", ".join(asked),
        code="PGRST107",
        http_status=406,
    )


def _by_preference(header: str) -> list[str]:
    """Media types sorted as wai's parseHttpAccept: q descending, then more parameters first."""
    ranked: list[tuple[float, int, str]] = []
    for item in header.replace(" ", "").split(","):
        media_type, _, q_text = item.partition(";q=")
        try:
            quality = float(q_text.split(";")[0]) if q_text else 1.0
        except ValueError:
            quality = 1.0
        if media_type and quality > 0:
            ranked.append((quality, media_type.count(";") - media_type.count("*"), media_type))
    ranked.sort(key=lambda entry: (entry[0], entry[1]), reverse=True)
    return [media_type for _, _, media_type in ranked]


_MEDIA_TYPE = re.compile(r"([A-Za-z0-9.*]+)/([A-Za-z0-9.*+-]+)((?:;[^;]*)*?);?")


def _decode_media_type(media_type: str, default: ResponseKind) -> ResponseFormat | None:
    match = _MEDIA_TYPE.fullmatch(media_type)
    if match is None:
        return None
    main, sub = match.group(1).lower(), match.group(2).lower()
    params: dict[str, str] = {}
    for param in filter(None, match.group(3).split(";")):
        key, _, value = param.partition("=")
        params.setdefault(key.lower(), value.strip('"'))
    stripped = params.get("nulls") == "stripped"
    match main, sub:
        case ("*", "*"):
            return ResponseFormat(default)
        case ("application", "json"):
            return ResponseFormat("json")
        case ("application", "vnd.pgrst.array+json" | "vnd.pgrst.array"):
            return ResponseFormat("json", strip_nulls=stripped)
        case ("application", "vnd.pgrst.object+json" | "vnd.pgrst.object"):
            return ResponseFormat("object", strip_nulls=stripped)
        case ("text", "csv"):
            return ResponseFormat("csv")
        case ("application", "openapi+json"):
            return ResponseFormat("openapi")
        case ("application", "vnd.pgrst.plan" | "vnd.pgrst.plan+text" | "vnd.pgrst.plan+json"):
            options = params.get("options", "").split("|")
            return ResponseFormat(
                "plan",
                plan_format="json" if sub.endswith("+json") else "text",
                plan_for=params.get("for", "application/json").lower(),
                plan_options=tuple(option for option in PLAN_OPTIONS if option in options),
            )
    return None


# --- Range ---------------------------------------------------------------------------------------

_RANGE = re.compile(r"(?:items=)?([0-9]+)-([0-9]*)")


def parse_range_header(value: str | None) -> Paging | None:
    """`Range: 0-9` (rows 0 to 9) or `10-` (from row 10); anything else is no range (None)."""
    match = _RANGE.fullmatch(value.strip()) if value is not None else None
    if match is None:
        return None
    first = int(match.group(1))
    if not match.group(2):
        return Paging(offset=first)
    last = int(match.group(2))
    if first > last:
        raise QueryParseError(
            "Requested range not satisfiable",
            code="PGRST103",
            details="The lower boundary must be lower than or equal to the upper boundary "
            "in the Range header.",
            http_status=416,
        )
    return Paging(offset=first, limit=last - first + 1)
