"""Prepared reads: a query's SQL built once per shape, then only bound.

Building a query with Tortoise and pypika (resolving filters, ordering and
fields, then rendering the SQL) costs more Python than reading a page of
rows. A :class:`Prepared` read is a function of a few integer variables
(``after``, ``limit``...) that returns a ``values()`` query. The first time
a *shape* runs (its constant key and which variables are given) on a
database dialect, Tortoise builds its SQL once, with a distinct sentinel
standing for each variable; every bound parameter equal to a sentinel is
that variable. Later runs only bind the values and convert the columns with
the fields' own ``to_python_value``, exactly as ``ValuesQuery`` does.

A shape whose SQL does not bind every variable as a parameter (a value
rendered into the text, or transformed on the way) is not prepared: it runs
through Tortoise every time. Rules never live here: callers compute their
windows and limits first (``resolvers.pagination``), then read.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from tortoise.models import Model
from tortoise.queryset import QuerySet, ValuesQuery

# Values standing for the variables while Tortoise renders a shape's SQL:
# distinct, within a 32-bit column, and far from any real page or id.
SENTINEL_BASE = 2_000_000_000

Build = Callable[..., QuerySet[Any] | ValuesQuery[Any]]


@dataclass(frozen=True, slots=True)
class _Plan:
    sql: str
    # Each bound parameter: (variable name, None) or (None, constant).
    params: tuple[tuple[str | None, Any], ...]
    columns: tuple[tuple[str, Callable[[Any], Any]], ...]
    # Annotations of a model query: set on each object as read (unconverted).
    custom: tuple[str, ...] = ()


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


def compile_shape(
    query: QuerySet[Any] | ValuesQuery[Any], sentinels: dict[str, int]
) -> _Plan | None:
    """The plan of ``query`` built with ``sentinels``, or None if it cannot be reused."""
    if not isinstance(query, ValuesQuery) and (
        query._prefetch_map or query._select_related or query._single
    ):
        return None  # more than one plain select: left to Tortoise
    query._choose_db_if_not_chosen()
    query._make_query()
    sql, params = query.query.get_parameterized_sql()
    names = {value: name for name, value in sentinels.items()}
    bound: list[tuple[str | None, Any]] = []
    for param in params:
        if type(param) is int and param in names:
            bound.append((names[param], None))
        else:
            bound.append((None, param))
    if {name for name, _ in bound if name is not None} != set(sentinels):
        return None  # a variable was rendered or transformed: not reusable
    if any(str(value) in sql for value in sentinels.values()):
        return None
    custom = () if isinstance(query, ValuesQuery) else tuple(query._annotations)
    return _Plan(sql, tuple(bound), _columns(query), custom)


class Prepared:
    """A read whose SQL is rendered once per shape and dialect.

    ``build(key, **variables)`` returns the query: a ``values()`` query for
    :meth:`rows`, a plain queryset (no related rows) for
    :meth:`objects` (annotations allowed, set on each object as Tortoise
    sets them). ``key`` is the shape's constant part (hashable, e.g. an
    ordering), ``variables`` the integers that change from call to call; a
    variable left None is not given (the shape without it).
    """

    def __init__(self, model: type[Model], build: Build) -> None:
        self._model = model
        self._build = build
        self._plans: dict[tuple[str, Hashable, frozenset[str]], _Plan | None] = {}

    def _plan(self, db: Any, key: Hashable, given: dict[str, int]) -> _Plan | None:
        shape = (db.capabilities.dialect, key, frozenset(given))
        if shape not in self._plans:
            sentinels = {name: SENTINEL_BASE + i for i, name in enumerate(sorted(given))}
            self._plans[shape] = compile_shape(self._build(key, **sentinels), sentinels)
        return self._plans[shape]

    @staticmethod
    def _params(plan: _Plan, given: dict[str, int]) -> list[Any]:
        return [given[name] if name is not None else const for name, const in plan.params]

    async def rows(self, key: Hashable = (), **variables: int | None) -> list[dict[str, Any]]:
        """What ``await build(key, **variables)`` (a ``values()`` query) returns."""
        given = {name: value for name, value in variables.items() if value is not None}
        db = self._model._choose_db()
        plan = self._plan(db, key, given)
        if plan is None:
            return list(await self._build(key, **given))
        rows: list[dict[str, Any]] = await db.execute_query_dict(
            plan.sql, self._params(plan, given)
        )
        for row in rows:
            for column, convert in plan.columns:
                row[column] = convert(row[column])
        return rows

    async def objects(self, key: Hashable = (), **variables: int | None) -> list[Any]:
        """What ``await build(key, **variables)`` (a queryset) returns: model
        objects, built from the rows as Tortoise's executor builds them."""
        given = {name: value for name, value in variables.items() if value is not None}
        db = self._model._choose_db()
        plan = self._plan(db, key, given)
        if plan is None:
            return list(await self._build(key, **given))
        _, rows = await db.execute_query(plan.sql, self._params(plan, given))
        make = self._model._init_from_db
        found = [make(**dict(row)) for row in rows]
        for name in plan.custom:
            for instance, row in zip(found, rows, strict=True):
                object.__setattr__(instance, name, row[name])
        return found
