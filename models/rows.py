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
        self._builders: dict[tuple[str, ...], Callable[[Sequence[Any]], list[Any]]] = {}
        # Stored as read: each column is the attribute of its name, kept in
        # the instance's __dict__.
        self._fast = all(
            key == name and _plain_attribute(model, name) for key, name, _, _ in columns
        )

    def objects(self, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
        if not rows:
            return []
        keys = tuple(rows[0].keys())  # every row of one read has the same columns
        build = self._builders.get(keys)
        if build is None:
            build = self._builders[keys] = self._builder(keys)
        return build(rows)

    def _builder(self, keys: tuple[str, ...]) -> Callable[[Sequence[Any]], list[Any]]:
        """The builder of objects from rows of ``keys`` (in this order),
        generated once per shape: each instance's state in one dict literal,
        the columns converted in place (a null kept without a call unless the
        field converts it too)."""
        if not self._fast or frozenset(keys) != self._keys or len(keys) != len(self._keys):
            slow = self._slow
            return lambda rows: [slow(row) for row in rows]
        env: dict[str, Any] = {
            "_new": self._model.__new__,
            "_model": self._model,
            "_custom_pk": self._custom_pk,
        }
        conversions = {key: (convert, always) for key, convert, always in self._converted}
        items = []
        for i, key in enumerate(keys):
            value = f"r[{i}]"
            if key in conversions:
                convert, always = conversions[key]
                env[f"_c{i}"] = convert
                value = (
                    f"_c{i}({value})"
                    if always
                    else f"(None if (v{i} := {value}) is None else _c{i}(v{i}))"
                )
            items.append(f"{key!r}: {value}")
        source = (
            "def build(rows):\n"
            "    found = []\n"
            "    for r in rows:\n"
            "        instance = _new(_model)\n"
            f"        instance.__dict__.update({{{', '.join(items)}, "
            "'_partial': False, '_saved_in_db': True, "
            "'_custom_generated_pk': _custom_pk, '_await_when_save': {}})\n"
            "        found.append(instance)\n"
            "    return found\n"
        )
        exec(source, env)  # generated from the model's own column names
        build: Callable[[Sequence[Any]], list[Any]] = env["build"]
        return build

    def _slow(self, row: Mapping[str, Any]) -> Any:
        instance = self._model._init_from_db(**dict(row))
        for name in self._custom:
            object.__setattr__(instance, name, row[name])
        return instance
