"""Model objects from plain rows, as Tortoise's executor builds them, in
less Python.

Tortoise's ``Model._init_from_db`` sets each field through
``object.__setattr__`` and four bookkeeping attributes through the model's
own ``__setattr__``: on a page of 50 chat messages that was a third of the
page read. A :class:`RowLoader` builds the same instance state (the same
fields converted by the same field methods, the same bookkeeping) in the
instance's ``__dict__`` in one step. A model it cannot reproduce (a field
behind a data descriptor) or a row that lacks a field (a partial read) goes
through ``_init_from_db`` itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from tortoise.models import Model

# (column, attribute, conversion or None, whether None is converted too)
_Column = tuple[str, str, Callable[[Any], Any] | None, bool]


def _plain_attribute(model: type[Model], name: str) -> bool:
    """Whether ``name`` is stored in the instance's ``__dict__`` (no data
    descriptor on the class stands in the way)."""
    attribute = getattr(model, name, None)
    return attribute is None or not hasattr(type(attribute), "__set__")


class RowLoader:
    """Builds ``model`` objects from rows of all its columns and ``custom``
    annotations (set unconverted, as Tortoise sets them)."""

    def __init__(self, model: type[Model], custom: Iterable[str] = ()) -> None:
        meta = model._meta
        self._model = model
        custom = tuple(custom)
        columns: list[_Column] = [
            (key, name, None, False) for key, name, _ in meta.db_native_fields
        ]
        columns += [(key, name, f.field_type, False) for key, name, f in meta.db_default_fields]
        columns += [(key, name, f.to_python_value, True) for key, name, f in meta.db_complex_fields]
        columns += [(name, name, None, False) for name in custom]
        self._custom = custom
        self._columns = tuple(columns)
        self._keys = frozenset(key for key, _, _, _ in columns)
        self._converted = tuple(
            (key, convert, always) for key, _, convert, always in columns if convert is not None
        )
        self._custom_pk = meta.db_pk_column not in meta.generated_db_fields
        # Stored as read: each column is the attribute of its name, kept in
        # the instance's __dict__.
        self._fast = all(
            key == name and _plain_attribute(model, name) for key, name, _, _ in columns
        )

    def objects(self, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
        if not rows:
            return []
        keys = tuple(rows[0].keys())  # every row of one read has the same columns
        if not self._fast or frozenset(keys) != self._keys or len(keys) != len(self._keys):
            return [self._slow(row) for row in rows]
        converted = self._converted
        new = self._model.__new__
        model = self._model
        custom_pk = self._custom_pk
        found = []
        for row in rows:
            state: dict[str, Any] = dict(zip(keys, row, strict=False))
            for key, convert, always in converted:
                value = state[key]
                if value is not None or always:
                    state[key] = convert(value)
            state["_partial"] = False
            state["_saved_in_db"] = True
            state["_custom_generated_pk"] = custom_pk
            state["_await_when_save"] = {}
            instance = new(model)
            instance.__dict__.update(state)
            found.append(instance)
        return found

    def _slow(self, row: Mapping[str, Any]) -> Any:
        instance = self._model._init_from_db(**dict(row))
        for name in self._custom:
            object.__setattr__(instance, name, row[name])
        return instance
