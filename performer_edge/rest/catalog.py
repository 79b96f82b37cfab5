"""The schema catalog: tables, views, functions, policies, indexes with declared Postgres types.

Pure immutable data shared by the migration translator and the query compiler; imports nothing
from `performer_edge` but `errors`. `to_dict`/`from_dict` give the stored, event-friendly form.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Union

from performer_edge.errors import InvalidInput

CATALOG_FORMAT = 1

JsonValue = Union[None, bool, int, float, str, list["JsonValue"], dict[str, "JsonValue"]]  # noqa: UP007

# How each declared Postgres type is stored in SQLite. The catalog keeps the declared type; the
# REST layer converts between the API shape and the stored value.
#
# | pg_type (catalog)         | SQLite  | stored value                                           |
# |---------------------------|---------|--------------------------------------------------------|
# | uuid                      | TEXT    | lower-case 8-4-4-4-12                                  |
# | text, varchar(n), char(n) | TEXT    | the string; char(n) blank-padded to n like Postgres    |
# | int2, int4, int8          | INTEGER | integer                                                |
# | numeric(p,s)              | NUMERIC | integer or 8-byte float: digits past ~15 and trailing  |
# |                           |         | zeros of the scale are lost                            |
# | float4, float8            | REAL    | 8-byte float                                           |
# | bool                      | INTEGER | 0 or 1                                                 |
# | date                      | TEXT    | YYYY-MM-DD                                             |
# | time                      | TEXT    | HH:MM:SS.ffffff                                        |
# | timestamp                 | TEXT    | YYYY-MM-DDTHH:MM:SS.ffffff                             |
# | timestamptz               | TEXT    | YYYY-MM-DDTHH:MM:SS.ffffff+00:00: always UTC and fixed |
# |                           |         | width, so text order is time order                     |
# | json, jsonb               | TEXT    | compact JSON text                                      |
# | bytea                     | BLOB    | the bytes                                              |
# | T[] (array_dims=1)        | TEXT    | JSON array of the elements' API shapes                 |
# | an enum type              | TEXT    | the label, with CHECK (col IN (labels))                |
# | tsvector                  | TEXT    | Postgres' text form: 'cat':2 'dog':4,7                 |
SQLITE_TYPES: Mapping[str, str] = MappingProxyType(
    {
        "uuid": "TEXT",
        "text": "TEXT",
        "varchar": "TEXT",
        "char": "TEXT",
        "int2": "INTEGER",
        "int4": "INTEGER",
        "int8": "INTEGER",
        "numeric": "NUMERIC",
        "float4": "REAL",
        "float8": "REAL",
        "bool": "INTEGER",
        "date": "TEXT",
        "time": "TEXT",
        "timestamp": "TEXT",
        "timestamptz": "TEXT",
        "json": "TEXT",
        "jsonb": "TEXT",
        "bytea": "BLOB",
        "tsvector": "TEXT",
    }
)
UNKNOWN_PG_TYPE = "unknown"  # a view column whose type cannot be derived; values pass through


def sqlite_table_name(schema: str, name: str) -> str:
    """The one mapping from a Postgres relation to its SQLite table.

    `public.todos` → `todos`; any other schema is a prefix: `auth.users` → `auth_users`,
    `storage.objects` → `storage_objects`, `private.notes` → `private_notes`.
    """
    return name if schema == "public" else f"{schema}_{name}"


def relation_key(schema: str, name: str) -> str:
    """The catalog key of a table, view, function, index or enum: `schema.name`."""
    return f"{schema}.{name}"


class DefaultKind(StrEnum):
    CONSTANT = "constant"  # `value` holds it in API shape
    RANDOM_UUID = "random_uuid"  # gen_random_uuid(), uuid_generate_v4()
    NOW = "now"  # now(), current_timestamp, current_date, timezone('utc', now())
    AUTH_UID = "auth_uid"  # auth.uid(): the writer fills it from the principal
    IDENTITY = "identity"  # identity or serial: the SQLite rowid
    EXPRESSION = "expression"  # any other SQL, in `sqlite`


class IdentityKind(StrEnum):
    ALWAYS = "always"
    BY_DEFAULT = "by_default"


class ReplicaIdentity(StrEnum):
    """How much of a changed row's old version Realtime sends (`alter table ... replica
    identity`): the primary key, the whole row, nothing, or a unique index's columns."""

    DEFAULT = "default"
    FULL = "full"
    NOTHING = "nothing"
    INDEX = "index"


@dataclass(frozen=True)
class ColumnDefault:
    """A column default. `sqlite` is the DDL DEFAULT expression ("" when the writer fills it)."""

    kind: DefaultKind
    sqlite: str = ""
    value: JsonValue = None
    source: str = ""  # the Postgres text, as OpenAPI shows it


@dataclass(frozen=True)
class Column:
    name: str
    pg_type: (
        str  # normalized: uuid, text, varchar(80), int8, numeric(10,2), timestamptz, an enum name
    )
    array_dims: int = 0  # 1 for `text[]`: pg_type is then the element type
    nullable: bool = True
    default: ColumnDefault | None = None
    identity: IdentityKind | None = None
    generated: str | None = None  # SQLite expression of `generated always as (...) stored`
    enum_values: tuple[str, ...] = ()  # the labels when pg_type is an enum type

    @property
    def base_type(self) -> str:
        """`varchar(80)` → `varchar`."""
        return self.pg_type.split("(", 1)[0]

    @property
    def sqlite_type(self) -> str:
        if self.array_dims or self.enum_values:
            return "TEXT"
        return SQLITE_TYPES.get(self.base_type, "")

    @property
    def type_length(self) -> int | None:
        """n of `varchar(n)`/`char(n)`, precision of `numeric(p,s)`; None without a modifier."""
        if "(" not in self.pg_type:
            return None
        return int(self.pg_type.split("(", 1)[1].split(",")[0].rstrip(")"))


class ReferentialAction(StrEnum):
    NO_ACTION = "no action"
    RESTRICT = "restrict"
    CASCADE = "cascade"
    SET_NULL = "set null"
    SET_DEFAULT = "set default"


@dataclass(frozen=True)
class ForeignKey:
    name: str
    columns: tuple[str, ...]
    ref_schema: str
    ref_table: str
    ref_columns: tuple[str, ...]
    on_delete: ReferentialAction = ReferentialAction.NO_ACTION
    on_update: ReferentialAction = ReferentialAction.NO_ACTION

    @property
    def ref_key(self) -> str:
        return relation_key(self.ref_schema, self.ref_table)


@dataclass(frozen=True)
class UniqueConstraint:
    name: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class CheckConstraint:
    name: str
    sqlite: str  # the predicate, translated to SQLite


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    primary_key_name: str = ""
    unique: tuple[UniqueConstraint, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    checks: tuple[CheckConstraint, ...] = ()
    rls_enabled: bool = False
    replica_identity: ReplicaIdentity = ReplicaIdentity.DEFAULT
    replica_index_columns: tuple[str, ...] = ()  # with ReplicaIdentity.INDEX

    @property
    def key(self) -> str:
        return relation_key(self.schema, self.name)

    @property
    def sqlite_name(self) -> str:
        return sqlite_table_name(self.schema, self.name)

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    def constraint_names(self) -> set[str]:
        names = {u.name for u in self.unique} | {f.name for f in self.foreign_keys}
        names |= {c.name for c in self.checks} | {self.primary_key_name}
        return names - {""}


@dataclass(frozen=True)
class Index:
    schema: str
    name: str
    table: str  # key of the indexed table
    keys: tuple[str, ...]  # SQLite text of each key: a quoted column or an expression
    unique: bool = False
    where: str | None = None  # SQLite predicate of a partial index
    # A GIN/GiST index on a tsvector (`keys` is its one expression) is an FTS5 table of that name,
    # kept in step by triggers (migrate_fts). Filters on `search_column` use it: a tsvector column
    # (`search_config` "") or the text column of `to_tsvector(search_config, column)`.
    full_text: bool = False
    search_column: str = ""
    search_config: str = ""

    @property
    def key(self) -> str:
        return relation_key(self.schema, self.name)


@dataclass(frozen=True)
class ViewColumnSource:
    """A view column that passes a base table's column through unchanged: through it the view
    carries that table's keys, so it can be embedded like the table (PostgREST does the same)."""

    column: str
    table: str  # key of the base table
    table_column: str


@dataclass(frozen=True)
class View:
    schema: str
    name: str
    sqlite: str  # the SELECT, translated to SQLite
    columns: tuple[Column, ...]  # pg_type is UNKNOWN_PG_TYPE where it cannot be derived
    depends_on: tuple[str, ...] = ()  # keys of the tables and views it reads
    security_invoker: bool = False
    sources: tuple[ViewColumnSource, ...] = ()

    @property
    def key(self) -> str:
        return relation_key(self.schema, self.name)

    @property
    def sqlite_name(self) -> str:
        return sqlite_table_name(self.schema, self.name)


class ReturnKind(StrEnum):
    SCALAR = "scalar"  # returns int
    SETOF_SCALAR = "setof_scalar"  # returns setof text
    ROW = "row"  # returns countries
    SETOF_ROW = "setof_row"  # returns setof countries
    TABLE = "table"  # returns table (id int, name text)
    VOID = "void"


@dataclass(frozen=True)
class FunctionReturn:
    kind: ReturnKind
    pg_type: str = ""  # scalar kinds
    array_dims: int = 0
    table: str = ""  # key of the row type's table or view (ROW, SETOF_ROW)
    columns: tuple[Column, ...] = ()  # TABLE


@dataclass(frozen=True)
class FunctionArg:
    name: str  # "" for an unnamed argument
    pg_type: str
    parameter: str  # the SQLite named parameter the body uses, without the colon
    array_dims: int = 0
    default: str | None = None  # SQLite expression


class Volatility(StrEnum):
    VOLATILE = "volatile"
    STABLE = "stable"
    IMMUTABLE = "immutable"


@dataclass(frozen=True)
class Function:
    """A `language sql` function. `body` is its statements in SQLite with `:parameter` binds;
    the last one gives the result."""

    schema: str
    name: str
    args: tuple[FunctionArg, ...]
    returns: FunctionReturn
    body: tuple[str, ...]
    volatility: Volatility = Volatility.VOLATILE
    security_definer: bool = False

    @property
    def key(self) -> str:
        return relation_key(self.schema, self.name)


class PolicyCommand(StrEnum):
    ALL = "all"
    SELECT = "select"
    INSERT = "insert"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True)
class Policy:
    """A row-level policy. A row passes when any permissive policy and every restrictive policy
    for the role and command passes. Expressions are SQLite predicates over the table's columns,
    calling the functions listed in `migrate_runtime.REQUEST_FUNCTIONS`."""

    name: str
    table: str  # key of the table
    command: PolicyCommand = PolicyCommand.ALL
    roles: tuple[str, ...] = ("public",)
    permissive: bool = True
    using: str | None = None
    with_check: str | None = None


@dataclass(frozen=True)
class EnumType:
    schema: str
    name: str
    values: tuple[str, ...]

    @property
    def key(self) -> str:
        return relation_key(self.schema, self.name)


def _frozen_map(items: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    return MappingProxyType(dict(items or {}))


def _system_table(schema: str, name: str, columns: str) -> Table:
    parsed = []
    for spec in columns.split(","):
        column_name, pg_type = spec.split()
        dims = int(pg_type.endswith("[]"))
        parsed.append(Column(column_name, pg_type.removesuffix("[]"), dims, column_name != "id"))
    return Table(schema, name, tuple(parsed), ("id",), f"{name}_pkey")


# Tables other components own (Auth, Storage). Migrations may reference them (foreign keys,
# policies, `insert into storage.buckets`) but not create or alter them. Their SQLite tables
# (`sqlite_table_name`) must have at least these columns.
SYSTEM_TABLES: Mapping[str, Table] = MappingProxyType(
    {
        t.key: t
        for t in (
            _system_table(
                "auth",
                "users",
                "id uuid,email text,phone text,created_at timestamptz,updated_at timestamptz,"
                "raw_app_meta_data jsonb,raw_user_meta_data jsonb,is_anonymous bool",
            ),
            _system_table(
                "storage",
                "buckets",
                "id text,name text,owner uuid,public bool,file_size_limit int8,"
                "allowed_mime_types text[],created_at timestamptz,updated_at timestamptz,"
                "eager_fetch bool",
            ),
            _system_table(
                "storage",
                "objects",
                "id uuid,bucket_id text,name text,owner uuid,metadata jsonb,"
                "created_at timestamptz,updated_at timestamptz,last_accessed_at timestamptz",
            ),
            # Never stored: private channel joins and sends are checked against a candidate row.
            _system_table(
                "realtime",
                "messages",
                "id uuid,topic text,extension text,event text,payload jsonb,private bool,"
                "inserted_at timestamptz",
            ),
        )
    }
)
SYSTEM_SCHEMAS = frozenset({"auth", "storage", "realtime"})


@dataclass(frozen=True)
class Catalog:
    """Everything the migrations declared, keyed by `schema.name`, in declaration order."""

    tables: Mapping[str, Table] = field(default_factory=_frozen_map)
    views: Mapping[str, View] = field(default_factory=_frozen_map)
    functions: Mapping[str, Function] = field(default_factory=_frozen_map)
    indexes: Mapping[str, Index] = field(default_factory=_frozen_map)
    enums: Mapping[str, EnumType] = field(default_factory=_frozen_map)
    policies: tuple[Policy, ...] = ()

    def table(self, schema: str, name: str) -> Table | None:
        return self.tables.get(relation_key(schema, name))

    def relation_sqlite_names(self) -> dict[str, str]:
        """Lower-cased SQLite name → key of every table and view (SQLite names ignore case)."""
        names = {t.sqlite_name.lower(): key for key, t in self.tables.items()}
        return names | {v.sqlite_name.lower(): key for key, v in self.views.items()}

    def policies_for(self, table_key: str) -> tuple[Policy, ...]:
        return tuple(p for p in self.policies if p.table == table_key)

    def indexes_for(self, table_key: str) -> tuple[Index, ...]:
        return tuple(i for i in self.indexes.values() if i.table == table_key)

    def with_table(self, table: Table, *, replacing: str | None = None) -> Catalog:
        """Add or replace `table`; `replacing` is its old key when it was renamed (order kept)."""
        return replace(self, tables=_put(self.tables, table.key, table, replacing))

    def without_table(self, key: str) -> Catalog:
        return replace(
            self,
            tables=_drop(self.tables, key),
            indexes=_frozen_map({k: i for k, i in self.indexes.items() if i.table != key}),
            policies=tuple(p for p in self.policies if p.table != key),
        )

    def with_view(self, view: View) -> Catalog:
        return replace(self, views=_put(self.views, view.key, view))

    def without_view(self, key: str) -> Catalog:
        return replace(self, views=_drop(self.views, key))

    def with_function(self, function: Function) -> Catalog:
        return replace(self, functions=_put(self.functions, function.key, function))

    def without_function(self, key: str) -> Catalog:
        return replace(self, functions=_drop(self.functions, key))

    def with_index(self, index: Index) -> Catalog:
        return replace(self, indexes=_put(self.indexes, index.key, index))

    def without_index(self, key: str) -> Catalog:
        return replace(self, indexes=_drop(self.indexes, key))

    def with_enum(self, enum: EnumType) -> Catalog:
        return replace(self, enums=_put(self.enums, enum.key, enum))

    def without_enum(self, key: str) -> Catalog:
        return replace(self, enums=_drop(self.enums, key))

    def with_policy(self, policy: Policy) -> Catalog:
        return replace(self, policies=(*self.policies, policy))

    def without_policy(self, table_key: str, name: str) -> Catalog:
        kept = (p for p in self.policies if (p.table, p.name) != (table_key, name))
        return replace(self, policies=tuple(kept))

    def to_dict(self) -> dict[str, Any]:
        """A JSON- and CBOR-ready dict; `Catalog.from_dict` reads it back."""
        return {"format": CATALOG_FORMAT, **_encode(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Catalog:
        if data.get("format") != CATALOG_FORMAT:
            raise InvalidInput(f"unknown catalog format {data.get('format')!r}")
        decoded = _decode_dataclass(cls, {k: v for k, v in data.items() if k != "format"})
        assert isinstance(decoded, Catalog)
        return decoded


def _put(items: Mapping[str, Any], key: str, item: Any, replacing: str | None = None) -> Any:
    old_key = replacing or key
    if old_key not in items:
        return _frozen_map({**items, key: item})
    return _frozen_map(
        {(key if k == old_key else k): (item if k == old_key else v) for k, v in items.items()}
    )


def _drop(items: Mapping[str, Any], key: str) -> Any:
    return _frozen_map({k: v for k, v in items.items() if k != key})


# The codec reads each field's annotation text (this module uses `from __future__ import
# annotations`), so the stored shape follows the dataclasses without a second schema to keep.
_DATACLASSES: dict[str, type] = {}  # filled at the end of the module
_ENUMS: dict[str, type[StrEnum]] = {
    name: value
    for name, value in list(globals().items())
    if isinstance(value, type) and issubclass(value, StrEnum) and value is not StrEnum
}


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _encode(v) for k, v in value.items()}
    return value


def _decoder(annotation: str) -> Callable[[Any], Any]:
    annotation = annotation.strip()
    if annotation.endswith("| None"):
        inner = _decoder(annotation.removesuffix("| None"))
        return lambda v: None if v is None else inner(v)
    if annotation.startswith("tuple[") and annotation.endswith(", ...]"):
        item = _decoder(annotation[len("tuple[") : -len(", ...]")])
        return lambda v: tuple(item(x) for x in v)
    if annotation.startswith("Mapping[str, "):
        item = _decoder(annotation[len("Mapping[str, ") : -1])
        return lambda v: _frozen_map({k: item(x) for k, x in v.items()})
    if annotation in _ENUMS:
        return _ENUMS[annotation]
    if annotation in _DATACLASSES:
        cls = _DATACLASSES[annotation]
        return lambda v: _decode_dataclass(cls, v)
    if annotation in {"str", "int", "bool", "JsonValue"}:
        return lambda v: v
    raise TypeError(f"catalog codec cannot decode {annotation}")  # a programming error


def _decode_dataclass(cls: type, data: Mapping[str, Any]) -> Any:
    if not isinstance(data, Mapping):
        raise InvalidInput(f"catalog: {cls.__name__} must be an object")
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(known)
    if unknown:
        raise InvalidInput(f"catalog: unknown {cls.__name__} fields {sorted(unknown)}")
    decoders = {name: _decoder(str(known[name].type)) for name in data}
    try:
        return cls(**{name: decoders[name](v) for name, v in data.items()})
    except (TypeError, ValueError, AttributeError) as error:
        raise InvalidInput(f"catalog: bad {cls.__name__}: {error}") from error


_DATACLASSES.update(
    (k, v)
    for k, v in list(globals().items())
    if isinstance(v, type) and dataclasses.is_dataclass(v)
)
