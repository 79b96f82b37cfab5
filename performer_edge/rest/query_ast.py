"""The PostgREST request grammar as data: the frozen values the `rest/query_*.py` parsers produce.

Pure values; imports nothing from the node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

EmbedPath: TypeAlias = tuple[str, ...]
"""Relation names from the root to an embedded resource: `clients.projects.limit` → both."""

JsonArrow = Literal["->", "->>"]
Aggregate = Literal["sum", "avg", "count", "min", "max"]
JoinType = Literal["inner", "left"]
SimpleOperator = Literal["neq", "cs", "cd", "ov", "sl", "sr", "nxl", "nxr", "adj", "isdistinct"]
QuantifiableOperator = Literal["eq", "gt", "gte", "lt", "lte", "like", "ilike", "match", "imatch"]
CompareOperator = SimpleOperator | QuantifiableOperator
Quantifier = Literal["any", "all"]
IsValue = Literal["null", "not_null", "true", "false", "unknown"]
FtsOperator = Literal["fts", "plfts", "phfts", "wfts"]
LogicOperator = Literal["and", "or"]
Direction = Literal["asc", "desc"]
NullsOrder = Literal["first", "last"]


@dataclass(frozen=True, slots=True)
class JsonStep:
    """One `->key`, `->>key` or `->0` step; an `int` operand is an array index."""

    arrow: JsonArrow
    operand: str | int


@dataclass(frozen=True, slots=True)
class Field:
    """A column, optionally followed by a JSON path: `data->a->>b`."""

    name: str
    json_path: tuple[JsonStep, ...] = ()

    @property
    def output_key(self) -> str:
        """The key PostgREST gives this field in a response: the last JSON key, else the name."""
        for step in reversed(self.json_path):
            if isinstance(step.operand, str):
                return step.operand
        return self.name


# --- select= -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SelectStar:
    """`*`: every column of the resource."""


@dataclass(frozen=True, slots=True)
class SelectColumn:
    """`alias:col->path::cast.sum()::cast`; every part but the column is optional."""

    field: Field
    alias: str | None = None
    cast: str | None = None
    aggregate: Aggregate | None = None
    aggregate_cast: str | None = None

    @property
    def output_key(self) -> str:
        if self.alias is not None:
            return self.alias
        return self.aggregate if self.aggregate is not None else self.field.output_key


@dataclass(frozen=True, slots=True)
class SelectCount:
    """`count()` or `alias:count()::cast`: the number of rows, as `count(*)`."""

    alias: str | None = None
    cast: str | None = None

    @property
    def output_key(self) -> str:
        return self.alias if self.alias is not None else "count"


@dataclass(frozen=True, slots=True)
class SelectEmbed:
    """`alias:relation!hint!inner(items)`: a related resource nested under its own key."""

    relation: str
    items: tuple[SelectItem, ...]
    alias: str | None = None
    hint: str | None = None
    join: JoinType | None = None

    @property
    def output_key(self) -> str:
        return self.alias if self.alias is not None else self.relation


@dataclass(frozen=True, slots=True)
class SelectSpread:
    """`...relation!hint(items)`: a related resource whose items are lifted into the parent."""

    relation: str
    items: tuple[SelectItem, ...]
    hint: str | None = None
    join: JoinType | None = None


SelectItem: TypeAlias = SelectStar | SelectColumn | SelectCount | SelectEmbed | SelectSpread


# --- filters -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Compare:
    """`op.value` with one value, kept as sent (for like/ilike see `like_pattern`)."""

    operator: CompareOperator
    value: str


@dataclass(frozen=True, slots=True)
class Quantified:
    """`op(any).{a,b}` / `op(all).{…}`; `values` is the parsed array literal, `None` for NULL."""

    operator: QuantifiableOperator
    quantifier: Quantifier
    values: tuple[str | None, ...]


@dataclass(frozen=True, slots=True)
class In:
    """`in.(a,"b,c")`; `in.()` is the empty list, which matches no row."""

    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Is:
    """`is.null|not_null|true|false|unknown` (case-insensitive on the wire)."""

    value: IsValue


@dataclass(frozen=True, slots=True)
class FullTextSearch:
    """`fts(config).query` and the plain, phrase and websearch variants."""

    operator: FtsOperator
    query: str
    config: str | None = None


Operation: TypeAlias = Compare | Quantified | In | Is | FullTextSearch


@dataclass(frozen=True, slots=True)
class Condition:
    """`field` + operation, optionally negated with `not.`: one leaf of a WHERE clause."""

    field: Field
    operation: Operation
    negated: bool = False


@dataclass(frozen=True, slots=True)
class LogicTree:
    """`or=(…)`, `and(…)`, `not.or(…)`: conditions and subtrees joined by one operator."""

    operator: LogicOperator
    children: tuple[Predicate, ...]
    negated: bool = False


Predicate: TypeAlias = Condition | LogicTree


@dataclass(frozen=True, slots=True)
class Filter:
    """One filter query parameter: a predicate on the resource at `embed_path` (root: `()`)."""

    predicate: Predicate
    embed_path: EmbedPath = ()


# --- order=, limit=, offset= ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderTerm:
    """`field.desc.nullsfirst`, or `relation(field).asc` to order by a to-one embed's column.

    `direction`/`nulls` are None when not given: the compiler applies Postgres defaults
    (ASC, and NULLS LAST for ASC / NULLS FIRST for DESC).
    """

    field: Field
    relation: str | None = None
    direction: Direction | None = None
    nulls: NullsOrder | None = None


@dataclass(frozen=True, slots=True)
class Ordering:
    """The `order` (or `rel.order`) parameter for one level of the response."""

    terms: tuple[OrderTerm, ...]
    embed_path: EmbedPath = ()


@dataclass(frozen=True, slots=True)
class Paging:
    """Rows `offset … offset+limit-1` of one level; `limit=None` means no upper bound."""

    offset: int = 0
    limit: int | None = None
    embed_path: EmbedPath = ()
