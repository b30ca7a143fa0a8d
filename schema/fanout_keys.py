"""What puts two GraphQL subscribers in one fan-out group (:mod:`schema.fanout`).

Subscribers share a group, and so every payload, when they listen to the
same channel with the same operation (document and operation name) and
coerced variables, and are of the same *viewer class*: nothing when the
selection reaches no field whose value depends on the viewer, else the
viewer's user id. A field depends on the viewer when it is declared with
``metadata=VIEWER_DEPENDENT`` next to its visibility rule (``User.email``,
``Room.members``), so two viewers who could see different data are never
in one group.
"""

from __future__ import annotations

import json
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    InlineFragmentNode,
    SelectionSetNode,
    get_named_type,
    is_object_type,
    print_ast,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

VIEWER_DEPENDENT = {"viewer_dependent": True}
"""``strawberry.field(metadata=VIEWER_DEPENDENT)``: this field's value depends on who asks."""

GroupKey = tuple[str, str, str, str, int | None]
"""Channel, document, operation name, coerced variables (JSON), viewer class."""


def group_key(channel: str, executor: StrawberryGraphQLCoreExecutionContext) -> GroupKey:
    """The group of a subscription to ``channel`` run by ``executor``."""
    operation = executor.operation
    document = operation.loc.source.body if operation.loc else print_ast(operation)
    name = operation.name.value if operation.name else ""
    variables = json.dumps(executor.variable_values.coerced, sort_keys=True, default=str)
    viewer: int | None = None
    root = executor.schema.subscription_type
    if root is not None and depends_on_viewer(
        root, operation.selection_set, executor.fragment_definitions, set()
    ):
        user = executor.context_value.user
        viewer = user.id if user is not None else 0
    return (channel, document, name, variables, viewer)


def _marked(field: Any) -> bool:
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    metadata = getattr(definition, "metadata", None) or {}
    return bool(metadata.get("viewer_dependent"))


def depends_on_viewer(
    type_: GraphQLObjectType,
    selection_set: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    seen: set[str],
) -> bool:
    """Whether the selection reaches a field marked :data:`VIEWER_DEPENDENT`.

    Abstract types are not walked into: a selection that reaches one counts
    as viewer-dependent (safe; the schema's subscriptions have none).
    """
    for selection in selection_set.selections:
        inner_type: Any = type_
        inner: SelectionSetNode | None
        if isinstance(selection, FieldNode):
            field = type_.fields.get(selection.name.value)
            if field is None:
                continue
            if _marked(field):
                return True
            inner = selection.selection_set
            if inner is None:
                continue
            inner_type = get_named_type(field.type)
        elif isinstance(selection, InlineFragmentNode):
            inner = selection.selection_set
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in seen or name not in fragments:
                continue
            seen.add(name)
            inner = fragments[name].selection_set
        else:  # pragma: no cover
            continue
        if not is_object_type(inner_type):
            return True
        if depends_on_viewer(inner_type, inner, fragments, seen):
            return True
    return False
