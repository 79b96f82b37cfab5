"""SQL for a read plan: each node's rows as jsonb objects, built inside SQLite.

Pure. A node's rows are `SELECT <jsonb_object> FROM <source> AS "tN" WHERE <join to parent,
filters, !inner EXISTS> [GROUP BY] ORDER BY ... LIMIT ...`. Embeds are correlated subqueries
(PostgREST uses lateral joins): to-one gives the object or NULL, to-many
`jsonb_group_array` of the rows (`[]` when none), many-to-many joins the junction table. A
to-one spread lifts each column as its own scalar subquery (aggregates in it are computed in
the parent, as PostgREST hoists them); a to-many spread gives one array per column. Values
stay JSONB blobs until the outermost `json_group_array`, so nested JSON is never re-parsed.
"""

from __future__ import annotations

from dataclasses import replace

from performer_edge.rest.catalog import Column
from performer_edge.rest.compile_columns import Pair, cast_sql, field_operand
from performer_edge.rest.compile_errors import not_embedded, related_order_not_to_one
from performer_edge.rest.compile_filters import Operand, compile_predicate
from performer_edge.rest.compile_fts_index import search_indexes
from performer_edge.rest.compile_functions import ARRAY_ORDER, JSONB_ORDER
from performer_edge.rest.compile_plan import CompileState, Node
from performer_edge.rest.compile_sql import (
    EMPTY_JSON_ARRAY,
    Params,
    column_ref,
    json_object_sql,
    limit_clause,
    quote_name,
    where_clause,
)
from performer_edge.rest.compile_values import enum_order_sql, is_enum, kind_of
from performer_edge.rest.query_ast import (
    Field,
    OrderTerm,
    SelectColumn,
    SelectCount,
    SelectEmbed,
    SelectSpread,
    SelectStar,
)


class Level:
    """Names as one node resolves them, for filters and order (a compile_filters.FilterScope)."""

    def __init__(self, node: Node, writer: TreeWriter) -> None:
        self.node = node
        self.writer = writer
        self.columns = {c.name: c for c in node.relation.columns}

    @property
    def params(self) -> Params:
        return self.writer.params

    def operand(self, field: Field) -> Operand:
        node = self.node
        operand = field_operand(node.alias, node.label, self.columns, field, self.params)
        table, rowid = node.relation.table, node.relation.rowid
        if table is None or rowid is None or field.json_path:
            return operand
        rowid_sql = column_ref(node.alias, rowid)
        search = search_indexes(self.writer.state.catalog, table, field.name, rowid_sql)
        return replace(operand, search=search) if search else operand

    def embedded_exists(self, name: str) -> str | None:
        child = self.node.child_named(name)
        return None if child is None else f"EXISTS ({self.writer.exists_sql(child)})"


class TreeWriter:
    """Writes the SQL of one plan; memoizes each node's WHERE and pairs (they are reused)."""

    def __init__(self, state: CompileState) -> None:
        self.state = state
        self.params = state.params
        self._where: dict[int, list[str]] = {}
        self._pairs: dict[int, list[Pair]] = {}

    # --- FROM and WHERE -------------------------------------------------------------------------

    def from_sql(self, node: Node) -> str:
        sql = f"{node.relation.source} AS {quote_name(node.alias)}"
        relationship = node.relationship
        if relationship is not None and relationship.junction is not None:
            junction = quote_name(node.junction_alias)
            on = " AND ".join(
                f"{junction}.{quote_name(j)} = {column_ref(node.alias, t)}"
                for t, j in relationship.junction.target_pairs
            )
            sql += f" JOIN {node.junction_source} AS {junction} ON {on}"
        return sql

    def join_conditions(self, node: Node) -> list[str]:
        relationship, parent = node.relationship, node.parent
        if relationship is None or parent is None:
            return []
        if relationship.junction is not None:
            return [
                f"{column_ref(node.junction_alias, j)} = {column_ref(parent.alias, o)}"
                for o, j in relationship.junction.origin_pairs
            ]
        return [
            f"{column_ref(node.alias, t)} = {column_ref(parent.alias, o)}"
            for o, t in relationship.pairs
        ]

    def where(self, node: Node) -> list[str]:
        if id(node) not in self._where:
            level = Level(node, self)
            parts = self.join_conditions(node) + list(node.extra_conditions)
            parts += [compile_predicate(p, level) for p in node.predicates]
            parts += [f"EXISTS ({self.exists_sql(c)})" for c in node.children if c.join == "inner"]
            self._where[id(node)] = parts
        return self._where[id(node)]

    def exists_sql(self, node: Node) -> str:
        paged = not node.to_one and (node.paging.limit is not None or node.paging.offset > 0)
        return self.rows_select(node, "1", ordered=paged)

    # --- rows ------------------------------------------------------------------------------------

    def rows_select(self, node: Node, select_list: str, *, ordered: bool = True) -> str:
        """`SELECT select_list` over the node's rows: filtered, grouped, ordered and paged."""
        sql = f"SELECT {select_list} FROM {self.from_sql(node)}{where_clause(self.where(node))}"
        pairs = self.pairs(node)
        aggregated = any(p.aggregate is not None for p in pairs)
        if aggregated:
            groups = [p.json(self.params) for p in pairs if p.aggregate is None]
            if groups:
                sql += " GROUP BY " + ", ".join(groups)
        if ordered:
            terms = self.order_terms(node, aggregated=aggregated)
            if terms:
                sql += " ORDER BY " + ", ".join(terms)
        if not node.to_one:
            sql += limit_clause(node.paging.limit, node.paging.offset, self.params)
        return sql

    def object_sql(self, node: Node) -> str:
        pairs = self.pairs(node)
        if not pairs:
            return "jsonb_object()"
        return json_object_sql([(p.key, p.json(self.params)) for p in pairs], self.params)

    def embed_value(self, node: Node) -> str:
        """A to-one embed's object (or NULL), a to-many embed's array (`[]` when empty)."""
        if node.to_one:
            return f"({self.rows_select(node, self.object_sql(node))})"
        rows = self.rows_select(node, f'{self.object_sql(node)} AS "body"')
        return f'(SELECT coalesce(jsonb_group_array("body"), {EMPTY_JSON_ARRAY}) FROM ({rows}))'

    # --- select list -----------------------------------------------------------------------------

    def pairs(self, node: Node) -> list[Pair]:
        if id(node) not in self._pairs:
            self._pairs[id(node)] = self._build_pairs(node)
        return self._pairs[id(node)]

    def _build_pairs(self, node: Node) -> list[Pair]:
        level = Level(node, self)
        children = iter(node.children)
        pairs: list[Pair] = []
        for item in node.items:
            if isinstance(item, SelectStar):
                pairs += [_column_pair(node, c) for c in node.relation.columns]
            elif isinstance(item, SelectCount):
                pairs.append(Pair(item.output_key, "*", None, "count", item.cast))
            elif isinstance(item, SelectColumn):
                operand = level.operand(item.field)
                raw, column = operand.sql, operand.column
                if item.cast is not None:
                    raw, column = cast_sql(raw, column, item.cast, self.params)
                key = item.output_key
                pairs.append(Pair(key, raw, column, item.aggregate, item.aggregate_cast))
            elif isinstance(item, SelectEmbed):
                child = next(children)
                if not child.outputs_nothing:
                    pairs.append(Pair(item.output_key, ready=self.embed_value(child)))
            elif isinstance(item, SelectSpread):
                pairs += self._spread_pairs(next(children))
        return pairs

    def _spread_pairs(self, node: Node) -> list[Pair]:
        inner = self.pairs(node)
        if not node.to_one:
            return [
                Pair(pair.key, ready=self._column_array(node, pair.json(self.params)))
                for pair in inner
            ]
        source = f"FROM {self.from_sql(node)}{where_clause(self.where(node))}"
        lifted = []
        for pair in inner:
            if pair.aggregate is not None and pair.raw == "*":
                lifted.append(pair)  # count(): counts the parent's rows
            elif pair.aggregate is not None:  # hoisted: aggregated over the parent's rows
                lifted.append(replace(pair, raw=f"(SELECT {pair.raw} {source})"))
            else:
                lifted.append(Pair(pair.key, ready=f"(SELECT {pair.json(self.params)} {source})"))
        return lifted

    def _column_array(self, node: Node, value: str) -> str:
        rows = self.rows_select(node, f'{value} AS "value"')
        return f'(SELECT coalesce(jsonb_group_array("value"), {EMPTY_JSON_ARRAY}) FROM ({rows}))'

    # --- order -----------------------------------------------------------------------------------

    def order_terms(self, node: Node, *, aggregated: bool) -> list[str]:
        level = Level(node, self)
        terms = []
        for term in node.order:
            operand = (
                self._related_operand(node, term) if term.relation else level.operand(term.field)
            )
            terms.append(_order_sql(operand, term, self.params))
        rowid = node.relation.rowid
        if rowid is not None and not aggregated and not node.to_one:
            # Ties in insertion order, like Postgres' heap order; running the way of the last
            # term lets SQLite read (column, rowid) straight from an index on the column.
            descending = bool(node.order) and node.order[-1].direction == "desc"
            terms.append(column_ref(node.alias, rowid) + (" DESC" if descending else ""))
        return terms

    def _related_operand(self, node: Node, term: OrderTerm) -> Operand:
        name = term.relation or ""
        child = node.child_named(name)
        if child is None:
            raise not_embedded(name)
        if not child.to_one:
            raise related_order_not_to_one(node.relation.name, name)
        inner = Level(child, self).operand(term.field)
        source = f"FROM {self.from_sql(child)}{where_clause(self.where(child))}"
        return Operand(f"(SELECT {inner.sql} {source})", inner.column)


def _column_pair(node: Node, column: Column) -> Pair:
    return Pair(column.name, column_ref(node.alias, column.name), column)


def _order_sql(operand: Operand, term: OrderTerm, params: Params) -> str:
    """Postgres placement: ASC puts NULLs last, DESC first (SQLite does the opposite)."""
    direction = term.direction or "asc"
    nulls = term.nulls or ("last" if direction == "asc" else "first")
    sql = operand.sql
    if is_enum(operand.column):
        sql = enum_order_sql(sql, operand.column, params)
    kind = kind_of(operand.column)
    if kind == "json":
        sql += f" COLLATE {JSONB_ORDER}"
    elif kind == "array":
        sql += f" COLLATE {ARRAY_ORDER}"
    if direction == "desc":
        sql += " DESC"
    if operand.nullable:
        sql += f" NULLS {nulls.upper()}"
    return sql
