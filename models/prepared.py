"""Prepared reads: a query's SQL built once per shape, then only bound.

Building a query with Tortoise and pypika (resolving filters, ordering and
fields, then rendering the SQL) costs more Python than reading a page of
rows. A :class:`Prepared` read is a function of a few variables (integers
such as ``after`` or ``limit``, strings such as a name, UUIDs such as a
session id) that returns a query. The first time a *shape* runs (its
constant key, which variables are given and their types) on a database
dialect, Tortoise builds its SQL once, with a distinct sentinel standing
for each variable; every bound parameter equal to a sentinel (or, for a
UUID, to its text, as Tortoise binds UUIDs) is that variable. Later runs
only bind the values and convert the columns with the fields' own
``to_python_value``, exactly as ``ValuesQuery`` does, or build the model
objects as Tortoise's executor does (:mod:`models.rows`).

A shape whose SQL does not bind every variable as a parameter (a value
rendered into the text, or transformed on the way) is not prepared: it runs
through Tortoise every time. Rules never live here: callers compute their
windows, limits and keys first (``resolvers.pagination``...), then read.
"""

from __future__ import annotations

import types
import uuid
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from tortoise.models import Model
from tortoise.queryset import QuerySet, ValuesQuery

from models.rows import RowLoader

# Values standing for the variables while Tortoise renders a shape's SQL:
# distinct, within a 32-bit column, and far from any real page or id.
SENTINEL_BASE = 2_000_000_000

Build = Callable[..., QuerySet[Any] | ValuesQuery[Any]]
_UNPLANNED: Any = object()
Variable = int | str | uuid.UUID


def sentinel(kind: type, index: int) -> Variable:
    """The value standing for the ``index``-th variable of type ``kind``."""
    if kind is int:
        return SENTINEL_BASE + index
    if kind is str:
        return f"\x1fprepared:{SENTINEL_BASE + index}\x1f"
    if kind is uuid.UUID:
        return uuid.UUID(int=SENTINEL_BASE + index)
    raise TypeError(f"a prepared read's variables are int, str or UUID, not {kind.__name__}")


@dataclass(frozen=True, slots=True)
class _Param:
    """A bound parameter: a variable (cast as its sentinel was) or a constant."""

    name: str | None
    constant: Any = None
    cast: Callable[[Any], Any] | None = None


@dataclass(frozen=True, slots=True)
class _Plan:
    sql: str
    params: tuple[_Param, ...]
    columns: tuple[tuple[str, Callable[[Any], Any]], ...]
    # Annotations of a model query: set on each object as read (unconverted).
    custom: tuple[str, ...] = ()
    # Converts ``columns`` in place in every row of a page: generated once per plan.
    convert: Callable[[list[dict[str, Any]]], None] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "convert", _converter(self.columns))


def _converter(
    columns: tuple[tuple[str, Callable[[Any], Any]], ...],
) -> Callable[[list[dict[str, Any]]], None]:
    """A function converting ``columns`` in each row, with no loop over the
    columns: one statement per column, each field's own conversion called."""
    if not columns:
        return _unchanged
    env: dict[str, Any] = {}
    lines = ["def convert(rows):", "    for r in rows:"]
    for i, (column, convert) in enumerate(columns):
        env[f"_c{i}"] = convert
        lines.append(f"        r[{column!r}] = _c{i}(r[{column!r}])")
    exec("\n".join(lines), env)  # built from the query's own column aliases
    generated: Callable[[list[dict[str, Any]]], None] = env["convert"]
    return generated


def _unchanged(rows: list[dict[str, Any]]) -> None:
    return None


def _columns(
    query: QuerySet[Any] | ValuesQuery[Any],
) -> tuple[tuple[str, Callable[[Any], Any]], ...]:
    """The converted columns, as ``ValuesQuery._execute`` picks them."""
    if not isinstance(query, ValuesQuery):
        return ()  # model objects convert their own columns
    found = []
    for alias, field_name in query._fields_for_select.items():
        convert = query.resolve_to_python_value(query.model, field_name)
        if not isinstance(convert, types.LambdaType):
            found.append((alias, convert))
    return tuple(found)


def _bound(param: Any, sentinels: dict[str, Variable]) -> _Param:
    for name, value in sentinels.items():
        if type(param) is type(value) and param == value:
            return _Param(name)
        if isinstance(value, uuid.UUID) and param == str(value):
            return _Param(name, cast=str)  # Tortoise binds a UUID as its text
    return _Param(None, param)


def compile_shape(
    query: QuerySet[Any] | ValuesQuery[Any], sentinels: dict[str, Variable]
) -> _Plan | None:
    """The plan of ``query`` built with ``sentinels``, or None if it cannot be reused."""
    if not isinstance(query, ValuesQuery) and (
        query._prefetch_map or query._select_related or query._single
    ):
        return None  # more than one plain select: left to Tortoise
    query._choose_db_if_not_chosen()
    query._make_query()
    sql, params = query.query.get_parameterized_sql()
    bound = tuple(_bound(param, sentinels) for param in params)
    if {p.name for p in bound if p.name is not None} != set(sentinels):
        return None  # a variable was rendered or transformed: not reusable
    if any(str(value) in sql for value in sentinels.values()):
        return None
    custom = () if isinstance(query, ValuesQuery) else tuple(query._annotations)
    return _Plan(sql, bound, _columns(query), custom)


class Prepared:
    """A read whose SQL is rendered once per shape and dialect.

    ``build(key, **variables)`` returns the query: a ``values()`` query for
    :meth:`rows`, a plain queryset (no related rows) for
    :meth:`objects` (annotations allowed, set on each object as Tortoise
    sets them). ``key`` is the shape's constant part (hashable, e.g. an
    ordering), ``variables`` the values that change from call to call
    (int, str or UUID); a variable left None is not given (the shape
    without it).
    """

    def __init__(self, model: type[Model], build: Build) -> None:
        self._model = model
        self._build = build
        self._plans: dict[
            tuple[str, Hashable, tuple[str, ...], tuple[type, ...]], _Plan | None
        ] = {}
        self._loaders: dict[tuple[str, ...], RowLoader] = {}

    def _plan(self, db: Any, key: Hashable, given: dict[str, Variable]) -> _Plan | None:
        # The variables given and their types, in the caller's order (a call
        # site names them in one order: no sorting on every read).
        shape = (db.capabilities.dialect, key, tuple(given), tuple(map(type, given.values())))
        plan: _Plan | None = self._plans.get(shape, _UNPLANNED)
        if plan is _UNPLANNED:
            kinds = dict(zip(given, shape[3], strict=True))
            sentinels = {name: sentinel(kinds[name], i) for i, name in enumerate(sorted(kinds))}
            plan = self._plans[shape] = compile_shape(self._build(key, **sentinels), sentinels)
        return plan

    @staticmethod
    def _params(plan: _Plan, given: dict[str, Variable]) -> list[Any]:
        return [
            p.constant
            if p.name is None
            else given[p.name]
            if p.cast is None
            else p.cast(given[p.name])
            for p in plan.params
        ]

    async def rows(self, key: Hashable = (), **variables: Variable | None) -> list[dict[str, Any]]:
        """What ``await build(key, **variables)`` (a ``values()`` query) returns."""
        given = {name: value for name, value in variables.items() if value is not None}
        db = self._model._choose_db()
        plan = self._plan(db, key, given)
        if plan is None:
            return list(await self._build(key, **given))
        rows: list[dict[str, Any]] = await db.execute_query_dict(
            plan.sql, self._params(plan, given)
        )
        plan.convert(rows)
        return rows

    async def objects(self, key: Hashable = (), **variables: Variable | None) -> list[Any]:
        """What ``await build(key, **variables)`` (a queryset) returns: model
        objects, built from the rows as Tortoise's executor builds them."""
        given = {name: value for name, value in variables.items() if value is not None}
        db = self._model._choose_db()
        plan = self._plan(db, key, given)
        if plan is None:
            return list(await self._build(key, **given))
        _, rows = await db.execute_query(plan.sql, self._params(plan, given))
        loader = self._loaders.get(plan.custom)
        if loader is None:
            loader = self._loaders[plan.custom] = RowLoader(self._model, plan.custom)
        return loader.objects(rows)
