"""Relationships between tables, found from foreign keys the way PostgREST's schema cache does.

Pure over the catalog. A foreign key gives a many-to-one (one-to-one when its columns are the
table's primary key or a unique key) and its inverse one-to-many (one-to-one); a table whose
primary key includes foreign keys to two tables is a junction giving many-to-many between them.
`find_relationship` disambiguates `target!hint` as PostgREST's `findRel` does.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Literal

from performer_edge.rest.catalog import Catalog, ForeignKey, Table, UniqueConstraint, View
from performer_edge.rest.compile_errors import ambiguous_relationship, no_relationship

Cardinality = Literal["many-to-one", "one-to-one", "one-to-many", "many-to-many"]
ColumnPairs = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Junction:
    """The table in the middle of a many-to-many, with its keys to the origin and the target."""

    table: Table
    origin_constraint: str
    target_constraint: str
    origin_pairs: ColumnPairs  # (origin column, junction column)
    target_pairs: ColumnPairs  # (target column, junction column)


@dataclass(frozen=True)
class Relationship:
    """How rows of `origin` relate to rows of `target`; `pairs` are (origin col, target col)."""

    origin: Table
    target: Table
    cardinality: Cardinality
    constraint: str
    pairs: ColumnPairs = ()
    junction: Junction | None = None

    @property
    def to_one(self) -> bool:
        return self.cardinality in ("many-to-one", "one-to-one")

    @property
    def is_self(self) -> bool:
        return self.origin.key == self.target.key

    def description(self) -> dict[str, str]:
        """The entry PostgREST lists for it in a PGRST201 error's details."""
        embedding = f"{self.origin.name} with {self.target.name}"
        if self.junction is not None:
            j = self.junction
            origin_columns = _listed(c for _, c in j.origin_pairs)
            target_columns = _listed(c for _, c in j.target_pairs)
            relationship = (
                f"{j.table.name} using {j.origin_constraint}{origin_columns}"
                f" and {j.target_constraint}{target_columns}"
            )
        else:
            relationship = (
                f"{self.constraint} using {self.origin.name}{_listed(o for o, _ in self.pairs)}"
                f" and {self.target.name}{_listed(t for _, t in self.pairs)}"
            )
        return {
            "cardinality": self.cardinality,
            "embedding": embedding,
            "relationship": relationship,
        }

    def hint_name(self) -> str:
        name = self.junction.table.name if self.junction else self.constraint
        return f"'{self.target.name}!{name}'"


def _listed(columns: Iterator[str] | tuple[str, ...]) -> str:
    return "(" + ", ".join(columns) + ")"


def _is_unique(table: Table, columns: tuple[str, ...]) -> bool:
    keys = [table.primary_key, *(u.columns for u in table.unique)]
    return any(key and set(key) == set(columns) for key in keys)


def _exposed_tables(catalog: Catalog, schema: str) -> list[Table]:
    return [t for t in catalog.tables.values() if t.schema == schema]


Renames = dict[str, dict[str, str]]  # base table key → {its column: the view's column}


def related_tables(catalog: Catalog, schema: str) -> dict[str, Table]:
    """The tables and views of `schema` by key, as the schema cache relates them: a view is a
    table with the keys of its base tables renamed to the columns it passes them through as,
    and a foreign key to a base table also points at each view passing the referenced
    columns through (so `cities?select=big_cities(*)`-style embeds work both ways)."""
    tables = [t for t in catalog.tables.values() if t.schema == schema]
    stand_ins: dict[str, list[tuple[Table, dict[str, str]]]] = {}
    for view in catalog.views.values():
        if view.schema != schema:
            continue
        table, renames = _view_table(catalog, view)
        tables.append(table)
        for base_key, names in renames.items():
            stand_ins.setdefault(base_key, []).append((table, names))
    related: dict[str, Table] = {}
    for table in tables:
        extra = [
            replace(
                fk,
                ref_schema=view.schema,
                ref_table=view.name,
                ref_columns=tuple(names[c] for c in fk.ref_columns),
            )
            for fk in table.foreign_keys
            for view, names in stand_ins.get(fk.ref_key, [])
            if all(c in names for c in fk.ref_columns)
        ]
        related[table.key] = replace(table, foreign_keys=table.foreign_keys + tuple(extra))
    return related


def _view_table(catalog: Catalog, view: View) -> tuple[Table, Renames]:
    renames: Renames = {}
    for source in view.sources:
        renames.setdefault(source.table, {}).setdefault(source.table_column, source.column)
    primary_key: tuple[str, ...] = ()
    unique: list[UniqueConstraint] = []
    foreign_keys: list[ForeignKey] = []
    for base_key, names in renames.items():
        base = catalog.tables.get(base_key)
        if base is None:
            continue

        def renamed(columns: tuple[str, ...], names: dict[str, str] = names) -> tuple[str, ...]:
            return tuple(names[c] for c in columns) if all(c in names for c in columns) else ()

        primary_key = primary_key or renamed(base.primary_key)
        unique += [
            replace(u, columns=renamed(u.columns)) for u in base.unique if renamed(u.columns)
        ]
        foreign_keys += [
            replace(fk, columns=renamed(fk.columns))
            for fk in base.foreign_keys
            if renamed(fk.columns)
        ]
    table = Table(
        view.schema,
        view.name,
        view.columns,
        primary_key,
        unique=tuple(unique),
        foreign_keys=tuple(foreign_keys),
    )
    return table, renames


def relationships_of(catalog: Catalog, origin: Table) -> list[Relationship]:
    """Every relationship from `origin` to a table or view of its schema, in PostgREST's order."""
    by_key = related_tables(catalog, origin.schema)
    tables = list(by_key.values())
    origin = by_key.get(origin.key, origin)
    found: list[Relationship] = []
    for fk in sorted(origin.foreign_keys, key=lambda f: f.name):
        target = by_key.get(fk.ref_key)
        if target is None:
            continue
        one = _is_unique(origin, fk.columns)
        pairs = tuple(zip(fk.columns, fk.ref_columns, strict=True))
        cardinality: Cardinality = "one-to-one" if one else "many-to-one"
        found.append(Relationship(origin, target, cardinality, fk.name, pairs))
    found += _many_to_many(origin, tables, by_key)
    inverse_one: list[Relationship] = []
    for table in tables:
        for fk in sorted(table.foreign_keys, key=lambda f: f.name):
            if fk.ref_key != origin.key:
                continue
            pairs = tuple(zip(fk.ref_columns, fk.columns, strict=True))
            if _is_unique(table, fk.columns):
                inverse_one.append(Relationship(origin, table, "one-to-one", fk.name, pairs))
            else:
                found.append(Relationship(origin, table, "one-to-many", fk.name, pairs))
    return found + inverse_one


def _many_to_many(
    origin: Table, tables: list[Table], by_key: dict[str, Table]
) -> list[Relationship]:
    found = []
    for junction in tables:
        primary_key = set(junction.primary_key)
        for to_origin in junction.foreign_keys:
            if to_origin.ref_key != origin.key or not set(to_origin.columns) <= primary_key:
                continue
            for to_target in junction.foreign_keys:
                target = by_key.get(to_target.ref_key)
                if to_target is to_origin or target is None:
                    continue
                if not set(to_target.columns) <= primary_key:
                    continue
                found.append(_junction_relationship(origin, target, junction, to_origin, to_target))
    return found


def _junction_relationship(
    origin: Table, target: Table, junction: Table, to_origin: ForeignKey, to_target: ForeignKey
) -> Relationship:
    link = Junction(
        junction,
        to_origin.name,
        to_target.name,
        tuple(zip(to_origin.ref_columns, to_origin.columns, strict=True)),
        tuple(zip(to_target.ref_columns, to_target.columns, strict=True)),
    )
    return Relationship(origin, target, "many-to-many", junction.name, junction=link)


def find_relationship(
    catalog: Catalog, origin: Table, origin_name: str, target: str, hint: str | None
) -> Relationship:
    """The one relationship `origin?select=target!hint(...)` names, or PGRST200/PGRST201."""
    candidates = relationships_of(catalog, origin)
    matches = [r for r in candidates if _matches(r, target, hint)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        related = list(dict.fromkeys(r.target.name for r in candidates))
        return_names = related or [t.name for t in _exposed_tables(catalog, origin.schema)]
        raise no_relationship(origin_name, target, hint, bool(related), return_names)
    raise ambiguous_relationship(
        origin_name, target, [r.description() for r in matches], [r.hint_name() for r in matches]
    )


def _single_column(relationship: Relationship, side: int) -> str | None:
    pairs = relationship.pairs
    return pairs[0][side] if len(pairs) == 1 and relationship.junction is None else None


def _matches(relationship: Relationship, target: str, hint: str | None) -> bool:
    """PostgREST's findRel predicate for one candidate."""
    r = relationship
    origin_column, target_column = _single_column(r, 0), _single_column(r, 1)
    if r.is_self and r.junction is None:
        # One foreign key, two relationships: the table name picks the one-to-many side,
        # the column name the many-to-one side; a hint names the referenced column.
        to_many = r.cardinality == "one-to-many"
        if hint is None:
            return (target == r.target.name and to_many) or (
                target == origin_column and r.cardinality == "many-to-one"
            )
        return target == r.target.name and to_many and hint == target_column
    if hint is None:
        by_constraint = r.junction is None and target == r.constraint
        return target == r.target.name or by_constraint or target == origin_column
    if target != r.target.name:
        return False
    if r.junction is not None:
        return hint == r.junction.table.name
    return hint in (r.constraint, origin_column, target_column)
