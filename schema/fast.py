"""A cheaper completion of plain objects for graphql-core.

graphql-core runs every field of every object the same way: build a resolve
info, call the resolver, check for an awaitable, complete the value. For a
page of 50 products with 7 fields that is 450 field executions, most of
them reading an attribute. The profile of ``products(first: 50)`` put
graphql-core's completion at 36–41 % of a request.

:class:`FastExecutionContext` completes an object with one generated
function (no loop over its fields, no call for a string, id, boolean or
32-bit int, which serialize as themselves) when every field selected on it
is *plain*:

- a Strawberry field without a resolver, extensions or arguments (it reads
  an attribute), or ``__typename``;
- or a field declared with :func:`prefetched`: its resolver's value may
  already sit in a private attribute (set by the parent's resolver, e.g.
  a page of messages with their authors loaded in one batch);
- or a field declared with :func:`computed`: a plain function of its object
  (no ``info``, no argument, not async), called with it, e.g. an edge's
  cursor, encoded only when selected;

and its type is a scalar, an enum, or (a list of) such plain objects. The
plan for an (object type, selection) pair is built once per operation, or
once for all requests of a cached document when the selection has no
directive; its code is compiled once per shape.
Anything else (a resolver, an argument, ``@defer``, a type with interfaces,
middleware) takes graphql-core's own path, and so does any object whose fast
completion meets a surprise (a null where the type says non-null, a value a
scalar refuses, a prefetched value not there): the fast pass only reads
attributes, so running the slow path after it is safe, and the slow path
raises the spec's located error.

Rules never live here: values are read from what resolvers returned.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FunctionType
from typing import Any

from graphql import (
    FragmentSpreadNode,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLString,
)
from graphql.pyutils import Path, Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.field import StrawberryField

PREFETCHED = "comptoir.prefetched"
COMPUTED = "comptoir.computed"
_BACKREF = "strawberry-definition"


def prefetched(attribute: str) -> dict[str, str]:
    """``metadata`` for a resolved field whose value may be prefetched into ``attribute``."""
    return {PREFETCHED: attribute}


def computed() -> dict[str, bool]:
    """``metadata`` for a field whose resolver is a plain function of its object."""
    return {COMPUTED: True}


class _Slow(Exception):
    """This object needs graphql-core's own path."""


@dataclass(slots=True)
class _Field:
    key: str  # the response key (alias or name)
    attribute: str | None  # None: __typename
    constant: str | None
    non_null: bool
    must_exist: bool  # prefetched: None means "not fetched", not null
    serialize: Callable[[Any], Any] | None  # leaves
    plan: _Plan | None  # objects
    is_list: bool
    item_non_null: bool
    scalar: GraphQLOutputType | None = None  # leaves
    call: Callable[[Any], Any] | None = None  # computed: the value is call(source)


@dataclass(slots=True)
class _Plan:
    fields: list[_Field]
    # What the compiled code depends on: equal signatures, same code. It
    # holds the scalar objects themselves, so their ids are not reused.
    signature: tuple[Any, ...] = field(init=False)
    run: Callable[[Any], dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.signature = tuple(
            (
                f.key,
                f.attribute,
                f.constant,
                f.non_null,
                f.must_exist,
                f.scalar,
                None if f.plan is None else f.plan.signature,
                f.is_list,
                f.item_non_null,
                f.call,
            )
            for f in self.fields
        )
        run = _COMPILED.get(self.signature)
        if run is None:
            if len(_COMPILED) >= COMPILED_MAX:
                _COMPILED.clear()
            run = _COMPILED[self.signature] = _compile(self.fields)
        self.run = run


# Compiled plans by signature, shared by every operation: a cached document
# compiles its plans once, not once per request.
COMPILED_MAX = 1024
_COMPILED: dict[tuple[Any, ...], Callable[[Any], dict[str, Any]]] = {}
# Plans by (type, the selection's nodes), for selections without directives
# (``FastExecutionContext._shared``): the value keeps the nodes alive.
_SHARED: dict[tuple[Any, ...], tuple[tuple[Any, ...], _Plan | None]] = {}


# The built-in scalars whose common values serialize as themselves: the
# compiled plan passes such values through without calling graphql-core's
# serializer (which would return them unchanged); any other value does call it.
_PASS_THROUGH = {
    id(GraphQLString): "type(v) is str",
    id(GraphQLID): "type(v) is str",
    id(GraphQLBoolean): "type(v) is bool",
    id(GraphQLInt): "type(v) is int and -2147483648 <= v <= 2147483647",
}


def _leaf(serialize: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A scalar's or enum's serializer, any surprise sending the object to the slow path."""

    def complete(value: Any) -> Any:
        try:
            result = serialize(value)
        except Exception:
            raise _Slow from None
        if result is None or result is Undefined:
            raise _Slow
        return result

    return complete


def _null() -> Any:
    raise _Slow


def _item(f: _Field, inner: str) -> str:
    """An expression completing ``v`` (not None) for ``f``; ``inner`` names
    its serializer or nested plan in the generated code."""
    check = None if f.plan is not None else _PASS_THROUGH.get(id(f.scalar))
    if check is None:
        return f"{inner}(v)"
    return f"(v if {check} else {inner}(v))"


# Nested objects (not in lists) are completed in their parent's code down to
# this depth; deeper, by a call of their own plan.
INLINE_DEPTH = 4


class _Emitter:
    """The code of a plan's ``run``: names in ``env`` are numbered once each."""

    def __init__(self) -> None:
        self.env: dict[str, Any] = {"_null": _null, "_undefined": Undefined}
        self.lines = ["def run(source):", "    out = {}"]
        self.count = 0

    def name(self, prefix: str, value: Any) -> str:
        self.count += 1
        name = f"{prefix}{self.count}"
        self.env[name] = value
        return name

    def fields(self, fields: list[_Field], source: str, out: str, pad: str, depth: int) -> None:
        for f in fields:
            key = repr(f.key)
            if f.attribute is None:
                self.lines.append(f"{pad}{out}[{key}] = {self.name('c', f.constant)}")
                continue
            if f.call is not None:
                read = f"{self.name('g', f.call)}({source})"
            elif f.attribute.isidentifier() and not keyword.iskeyword(f.attribute):
                read = f"{source}.{f.attribute}"
            else:
                read = f"getattr({source}, {self.name('a', f.attribute)})"
            self.lines.append(f"{pad}v = {read}")
            null = "_null()" if f.non_null or f.must_exist else "None"
            if f.is_list:
                if f.plan is not None:
                    inner = self.name("f", f.plan.run)
                else:
                    assert f.serialize is not None
                    inner = self.name("f", _leaf(f.serialize))
                item_null = "_null()" if f.item_non_null else "None"
                item = f"({_item(f, inner)} if v is not None else {item_null})"
                self.lines.append(
                    f"{pad}{out}[{key}] = [{item} for v in v] if v is not None else {null}"
                )
                continue
            self.lines.append(f"{pad}if v is not None:")
            if f.plan is None:
                self.leaf(f, pad + "    ")
            elif depth < INLINE_DEPTH:
                nested_source, nested_out = self.name("s", None), self.name("o", None)
                self.lines += [f"{pad}    {nested_source} = v", f"{pad}    {nested_out} = {{}}"]
                self.fields(f.plan.fields, nested_source, nested_out, pad + "    ", depth + 1)
                self.lines.append(f"{pad}    v = {nested_out}")
            else:
                self.lines.append(f"{pad}    v = {self.name('f', f.plan.run)}(v)")
            if f.non_null or f.must_exist:
                self.lines += [f"{pad}else:", f"{pad}    _null()"]
            self.lines.append(f"{pad}{out}[{key}] = v")

    def leaf(self, f: _Field, pad: str) -> None:
        """Serialize ``v`` (not None) without a call of ours: the serializer
        itself (``isoformat``, ``str``... for the scalars that do not pass
        their values through), then the null check graphql-core makes."""
        serialize = [
            f"v = {self.name('s', f.serialize)}(v)",
            "if v is None or v is _undefined: _null()",
        ]
        check = _PASS_THROUGH.get(id(f.scalar))
        if check is None:
            self.lines += [f"{pad}{line}" for line in serialize]
        else:
            self.lines.append(f"{pad}if not ({check}):")
            self.lines += [f"{pad}    {line}" for line in serialize]


def _compile(fields: list[_Field]) -> Callable[[Any], dict[str, Any]]:
    """One Python function completing an object for ``fields``: no loop over
    fields, no call per field for plain strings, ids, booleans and ints, and
    nested objects (not in lists) completed in line.

    It computes what graphql-core's completion would, for the values it
    accepts; on anything else it raises (``_Slow``, or the serializer's error).
    """
    emitter = _Emitter()
    emitter.fields(fields, "source", "out", "    ", 0)
    emitter.lines.append("    return out")
    exec("\n".join(emitter.lines), emitter.env)  # built from schema names and aliases only
    run: Callable[[Any], dict[str, Any]] = emitter.env["run"]
    return run


def _field_attribute(definition: Any) -> tuple[str, bool, Callable[[Any], Any] | None] | None:
    """(attribute to read, whether None means "not prefetched", the function
    computing it) or None if not plain."""
    if not isinstance(definition, StrawberryField):
        return None
    if definition.is_basic_field:
        return definition.python_name, False, None
    metadata: dict[str, Any] = dict(definition.metadata or {})
    if definition.arguments or definition.extensions:
        return None
    attribute = metadata.get(PREFETCHED)
    if attribute:
        return str(attribute), True, None
    resolver = definition.base_resolver
    if (
        metadata.get(COMPUTED)
        and resolver is not None
        and not resolver.is_async
        and resolver.self_parameter is not None
        and len(resolver.arguments) == 0
        and resolver.info_parameter is None
        and resolver.root_parameter is None
        and resolver.parent_parameter is None
    ):
        function = resolver.wrapped_func
        if isinstance(function, FunctionType):
            return definition.python_name, False, function
    return None


class FastExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, with plain objects completed in one loop."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plans: dict[tuple[GraphQLObjectType, int], tuple[Any, _Plan | None]] = {}

    def build_per_event_executor(self, payload: Any) -> Any:
        # A per-event executor is a shallow copy: give it plans of its own, or
        # a long subscription would add one plan per event to its parent's.
        executor = super().build_per_event_executor(payload)
        if isinstance(executor, FastExecutionContext):
            executor._plans = {}
        return executor

    def collect_and_execute_subfields(
        self,
        return_type: GraphQLObjectType,
        field_details_list: Any,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        plan = self._plan(return_type, field_details_list)
        if plan is not None:
            try:
                return plan.run(result)
            except Exception:  # _Slow, or an attribute that raised
                pass  # graphql-core's path raises the spec's located error, if any
        return super().collect_and_execute_subfields(
            return_type, field_details_list, path, result, position_context
        )

    def _plan(self, return_type: GraphQLObjectType, field_details_list: Any) -> _Plan | None:
        key = (return_type, id(field_details_list))
        cached = self._plans.get(key)
        if cached is not None:
            return cached[1]
        manager = self.middleware_manager
        middleware = manager is not None and bool(manager.middlewares)
        plan = None if middleware else self._shared(return_type, field_details_list)
        # The list is kept alive with its plan, so its id is not reused.
        self._plans[key] = (field_details_list, plan)
        return plan

    def _shared(self, return_type: GraphQLObjectType, field_details_list: Any) -> _Plan | None:
        """The plan of a selection, built once for every request of its document.

        Without directives, what a selection collects depends only on its
        nodes (those of a cached document, the same objects from request to
        request) and on the type: the plan is kept by their identities,
        with the nodes themselves so that their ids are not reused.
        """
        nodes = tuple(details.node for details in field_details_list)
        key = (return_type, tuple(map(id, nodes)))
        shared = _SHARED.get(key)
        if shared is not None:
            return shared[1]
        plan = self._build(return_type, field_details_list)
        if all(self._without_directives(node) for node in nodes):
            if len(_SHARED) >= COMPILED_MAX:
                _SHARED.clear()
            _SHARED[key] = (nodes, plan)
        return plan

    def _without_directives(self, node: Any, seen: frozenset[str] = frozenset()) -> bool:
        """Whether nothing under ``node`` (fragments included) has a directive."""
        for selection in getattr(node.selection_set, "selections", None) or ():
            if selection.directives:
                return False
            if isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                found = self.fragments.get(name)
                if found is None or name in seen or getattr(selection, "arguments", None):
                    return False
                if found.variable_signatures or found.definition.directives:
                    return False  # fragment variables: collected per request
                if not self._without_directives(found.definition, seen | {name}):
                    return False
            elif not self._without_directives(selection, seen):
                return False
        return True

    def _build(self, return_type: GraphQLObjectType, field_details_list: Any) -> _Plan | None:
        if return_type.is_type_of is not None or return_type.interfaces:
            return None
        collected = self.collect_subfields(return_type, field_details_list)
        grouped, defer_usages, forbidden = collected
        if defer_usages or forbidden:
            return None
        fields: list[_Field] = []
        for key, details in grouped.items():
            node = details[0].node
            if any(d.defer_usage is not None for d in details):
                return None
            name = node.name.value
            if name == "__typename":
                fields.append(
                    _Field(key, None, return_type.name, True, False, None, None, False, False)
                )
                continue
            field_def = return_type.fields.get(name)
            if field_def is None or node.arguments or field_def.args:
                return None
            plain = _field_attribute((field_def.extensions or {}).get(_BACKREF))
            if plain is None:
                return None
            attribute, must_exist, call = plain
            built = self._output(field_def.type, details)
            if built is None:
                return None
            non_null, is_list, item_non_null, leaf, plan = built
            fields.append(
                _Field(
                    key,
                    attribute,
                    None,
                    non_null,
                    must_exist,
                    None if leaf is None else leaf.coerce_output_value,
                    plan,
                    is_list,
                    item_non_null,
                    leaf,
                    call,
                )
            )
        return _Plan(fields)

    def _output(
        self, output: GraphQLOutputType, details: Any
    ) -> tuple[bool, bool, bool, GraphQLScalarType | GraphQLEnumType | None, _Plan | None] | None:
        non_null = isinstance(output, GraphQLNonNull)
        inner = output.of_type if isinstance(output, GraphQLNonNull) else output
        is_list = isinstance(inner, GraphQLList)
        item_non_null = False
        if isinstance(inner, GraphQLList):
            item = inner.of_type
            item_non_null = isinstance(item, GraphQLNonNull)
            inner = item.of_type if isinstance(item, GraphQLNonNull) else item
            if isinstance(inner, GraphQLList):
                return None
        if isinstance(inner, GraphQLScalarType | GraphQLEnumType):
            return non_null, is_list, item_non_null, inner, None
        if isinstance(inner, GraphQLObjectType):
            plan = self._plan(inner, details)
            if plan is None:
                return None
            return non_null, is_list, item_non_null, None, plan
        return None
