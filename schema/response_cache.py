"""The GraphQL door of the response cache (:mod:`resolvers.response_cache`).

It only translates: a document's root fields become the scopes their
``metadata`` declares (``CATALOGUE_READ``), and whether its selection
reaches a ``VIEWER_DEPENDENT`` field (:func:`schema.fanout.depends_on_viewer`);
the resolvers' rule decides. The decision is kept per (document, operation
name), at most :data:`MAX_DECISIONS` of them.

An answer is cached as the bytes of its JSON body: a hit skips execution
and encoding (:class:`CachedResponse`). Only single operations (no
batch) without errors are stored.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from typing import Any, cast

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    parse,
)
from strawberry.schema import BaseSchema
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types import ExecutionResult

from core import etag
from resolvers import response_cache
from resolvers.permissions import Actor
from resolvers.response_cache import SCOPE, Lookup
from schema.fanout_keys import depends_on_viewer

MAX_DECISIONS = 1000
HEADER = etag.CACHE_HEADER


class CachedResponse(dict[str, object]):
    """A processed result whose JSON body is already encoded (the view's
    ``encode_json`` answers ``body``)."""

    def __init__(self, body: bytes) -> None:
        super().__init__()
        self.body = body


class CachedResult(ExecutionResult):
    """What ``execute_single`` returns on a hit: nothing ran."""

    def __init__(self, body: bytes) -> None:
        super().__init__(data=None, errors=None)
        self.response = CachedResponse(body)


def _scope(field: Any) -> object:
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    return (getattr(definition, "metadata", None) or {}).get(SCOPE)


def _root_fields(
    selection_set: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    seen: set[str],
) -> Iterator[FieldNode]:
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _root_fields(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name not in seen and name in fragments:
                seen.add(name)
                yield from _root_fields(fragments[name].selection_set, fragments, seen)


def _operation(document: Any, operation_name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        return operations[0] if len(operations) == 1 else None
    for operation in operations:
        if operation.name is not None and operation.name.value == operation_name:
            return operation
    return None


def decide(schema: GraphQLSchema, query: str, operation_name: str | None) -> str | None:
    """The scope ``query`` may be cached under (resolvers' rule), or None."""
    try:
        document = parse(query, no_location=True)
    except GraphQLError:
        return None
    operation = _operation(document, operation_name)
    root: GraphQLObjectType | None = schema.query_type
    if operation is None or operation.operation != OperationType.QUERY or root is None:
        return None
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    scopes: list[object] = []
    for node in _root_fields(operation.selection_set, fragments, set()):
        if node.name.value == "__typename":
            continue
        field = root.fields.get(node.name.value)
        scopes.append(_scope(field) if field is not None else None)
    viewer = depends_on_viewer(root, operation.selection_set, fragments, set())
    return response_cache.cacheable(scopes, viewer_dependent=viewer)


class Decisions:
    """Per (document, operation name): cacheable or not, bounded."""

    def __init__(self, schema: BaseSchema, size: int = MAX_DECISIONS) -> None:
        self._schema: GraphQLSchema = cast(Any, schema)._schema
        self._size = size
        self._known: OrderedDict[tuple[str, str | None], str | None] = OrderedDict()

    def scope(self, query: str, operation_name: str | None) -> str | None:
        key = (query, operation_name)
        if key in self._known:
            self._known.move_to_end(key)
            return self._known[key]
        scope = self._known[key] = decide(self._schema, query, operation_name)
        if len(self._known) > self._size:
            self._known.popitem(last=False)
        return scope


async def lookup(
    decisions: Decisions,
    query: str | None,
    operation_name: str | None,
    variables: dict[str, Any] | None,
    viewer: Actor | None,
) -> Lookup | None:
    """What the cache says of one operation; None when it is off or the
    operation is not cacheable."""
    if query is None or not response_cache.enabled():
        return None
    if decisions.scope(query, operation_name) is None:
        return None
    try:
        variables_key = json.dumps(variables or {}, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return None
    key: Hashable = (
        "graphql",
        query,
        operation_name,
        variables_key,
        response_cache.viewer_class(viewer),
    )
    return await response_cache.lookup(key)
