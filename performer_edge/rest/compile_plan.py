"""The read plan: the request's select tree resolved against the catalog into nodes, one per
table reference, each with its relationship to its parent and the filters, order and range
addressed to it (`rel.col=...`, `rel.order=...`, `rel.limit=...`).

Pure; SQL for the nodes is written by compile_select.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlglot

from performer_edge.rest.catalog import Catalog, Column, PolicyCommand, Table, View
from performer_edge.rest.compile_context import RequestContext
from performer_edge.rest.compile_errors import no_relationship, not_embedded, table_not_found
from performer_edge.rest.compile_policy import render, rewrite_relations, table_source
from performer_edge.rest.compile_relations import Relationship, find_relationship, related_tables
from performer_edge.rest.compile_sql import Aliases, Params, quote_name
from performer_edge.rest.query import Query
from performer_edge.rest.query_ast import (
    EmbedPath,
    Field,
    JoinType,
    OrderTerm,
    Paging,
    Predicate,
    SelectColumn,
    SelectCount,
    SelectEmbed,
    SelectItem,
    SelectSpread,
    SelectStar,
)


@dataclass(frozen=True)
class Relation:
    """What a FROM item reads: a table (under the caller's policies), a view or an RPC result."""

    name: str  # the name PostgREST shows: table, view or function name
    columns: tuple[Column, ...]
    source: str  # FROM-able SQL
    rowid: str | None  # column giving insertion order, None when there is none
    table: Table | None = None  # tables only: keys and foreign keys for embedding

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass
class CompileState:
    """Everything one compilation shares: the catalog, the caller, parameters and aliases."""

    catalog: Catalog
    context: RequestContext
    params: Params = field(default_factory=Params)
    aliases: Aliases = field(default_factory=Aliases)


@dataclass
class Node:
    """One table reference of the response tree."""

    relation: Relation
    alias: str
    label: str  # the name Postgres errors give it: the table at the root, `table_depth` below
    name: str  # how filters, orders and ranges address it: its alias, else its relation name
    items: tuple[SelectItem, ...]
    parent: Node | None = None
    relationship: Relationship | None = None
    junction_source: str = ""
    junction_alias: str = ""
    join: JoinType | None = None
    spread: bool = False
    children: list[Node] = field(default_factory=list)
    predicates: list[Predicate] = field(default_factory=list)
    order: tuple[OrderTerm, ...] = ()
    paging: Paging = field(default_factory=Paging)
    extra_conditions: list[str] = field(default_factory=list)

    @property
    def to_one(self) -> bool:
        return self.relationship is not None and self.relationship.to_one

    @property
    def outputs_nothing(self) -> bool:
        """An embed with an empty select (`rel()`), used only to filter: not in the output."""
        return not self.items and all(c.outputs_nothing for c in self.children)

    def child_named(self, name: str) -> Node | None:
        return next((c for c in self.children if c.name == name), None)


def table_relation(
    state: CompileState,
    table: Table,
    commands: Sequence[PolicyCommand] = (PolicyCommand.SELECT,),
) -> Relation:
    source, rowid = table_source(state.catalog, table, state.context, commands)
    return Relation(table.name, table.columns, source, rowid, table)


def resolve_relation(state: CompileState, schema: str, name: str) -> Relation:
    """The table or view `/rest/v1/name` reads, or PGRST205 with PostgREST's closest-name hint."""
    catalog = state.catalog
    table = catalog.table(schema, name)
    if table is not None:
        return table_relation(state, table)
    view = catalog.views.get(f"{schema}.{name}")
    if view is not None:
        return view_relation(state, view)
    known = [t.name for t in catalog.tables.values() if t.schema == schema]
    known += [v.name for v in catalog.views.values() if v.schema == schema]
    raise table_not_found(schema, name, known)


def view_relation(state: CompileState, view: View) -> Relation:
    """A view, read under the caller's policies when it is `security_invoker`; it embeds
    through the keys of the base table columns it passes through."""
    source = quote_name(view.sqlite_name)
    if view.security_invoker and not state.context.bypass_rls:
        view_query = sqlglot.parse_one(view.sqlite, read="sqlite")
        tree = rewrite_relations(view_query, state.catalog, state.context.role, ())
        source = f"({render(tree)})"
    embeddable = related_tables(state.catalog, view.schema).get(view.key)
    return Relation(view.name, view.columns, source, None, embeddable)


def _related_relation(state: CompileState, related: Table) -> Relation:
    """What an embed reads for a relationship's target or junction: the table or the view."""
    view = state.catalog.views.get(related.key)
    if view is not None:
        return view_relation(state, view)
    return table_relation(state, state.catalog.tables.get(related.key, related))


def build_tree(state: CompileState, relation: Relation, query: Query, label: str = "") -> Node:
    """The resolved tree for `query` over `relation`, with filters, orders and ranges placed."""
    items = query.select or (SelectStar(),)
    root = Node(relation, state.aliases.next(), label or relation.name, relation.name, items)
    _add_children(state, root, depth=1)
    for query_filter in query.filters:
        _node_at(root, query_filter.embed_path).predicates.append(query_filter.predicate)
    for ordering in query.orderings:
        _node_at(root, ordering.embed_path).order = ordering.terms
    for paging in query.pagings:
        _node_at(root, paging.embed_path).paging = paging
    return root


def _node_at(root: Node, path: EmbedPath) -> Node:
    node = root
    for name in path:
        child = node.child_named(name)
        if child is None:
            raise not_embedded(name)
        node = child
    return node


def _add_children(state: CompileState, node: Node, depth: int) -> None:
    for item in node.items:
        if isinstance(item, SelectEmbed | SelectSpread):
            child = _child(state, node, item, depth)
            node.children.append(child)
            _add_children(state, child, depth + 1)


def _child(state: CompileState, parent: Node, item: SelectEmbed | SelectSpread, depth: int) -> Node:
    origin = parent.relation.table
    if origin is None:  # views and scalar results have no foreign keys to embed through
        names = [t.name for t in state.catalog.tables.values()]
        raise no_relationship(parent.relation.name, item.relation, item.hint, False, names)
    relationship = find_relationship(
        state.catalog, origin, parent.relation.name, item.relation, item.hint
    )
    relation = _related_relation(state, relationship.target)
    alias = state.aliases.next()
    spread = isinstance(item, SelectSpread)
    name = item.relation if spread or item.alias is None else item.alias  # type: ignore[union-attr]
    child = Node(
        relation,
        alias,
        f"{relationship.target.name}_{depth}",
        name,
        _legacy_counts(item.items, relation),
        parent=parent,
        relationship=relationship,
        join=item.join,
        spread=spread,
    )
    if relationship.junction is not None:
        junction = _related_relation(state, relationship.junction.table)
        child.junction_source, child.junction_alias = junction.source, state.aliases.next()
    return child


def _legacy_counts(items: tuple[SelectItem, ...], relation: Relation) -> tuple[SelectItem, ...]:
    """`rel(count)`: before aggregates PostgREST counted an embed's rows with a bare `count`,
    and still does (even with aggregates disabled) when the relation has no such column."""
    if relation.column("count") is not None:
        return items
    return tuple(
        SelectCount(item.alias, item.cast)
        if isinstance(item, SelectColumn)
        and item.field == Field("count")
        and item.aggregate is None
        else item
        for item in items
    )
