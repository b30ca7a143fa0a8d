"""HTTP operations whose document is known valid, run straight on graphql-core.

Strawberry's ``Schema.execute`` takes every request through its extension
machinery: an execution context, fresh instances of every extension, a
context manager per extension and phase (operation, parsing, validation,
execution) built from generators. For ``products(first: 50)`` that was a
fifth of the Python calls of a request, for work that, once a document has
parsed and validated, reduces to what our extensions do after execution.

So the first request of a document goes the whole way, and
:class:`schema.limits.QueryLimits` records it here (:class:`ValidDocuments`)
once it parsed and passed the limits and the validation rules (the cached
ones, keyed by the same text). The next HTTP queries and mutations of that
text skip straight to graphql-core's ``execute`` with the schema's executor,
then do what the extensions would have done, with their own functions:

- :class:`schema.errors.ErrorCodes`: every error gets its code
  (:func:`schema.errors.client_errors`) after ``Schema.process_errors``
  logged the unexpected ones, as Strawberry orders them;
- :class:`schema.observe.OperationMetrics`: the operation and its errors
  are counted (:func:`schema.observe.record`);
- :class:`schema.limits.QueryLimits`: nothing left, the document is valid;
- :class:`schema.subscriptions.WebSocketSession`: nothing over HTTP.

Anything else takes Strawberry's path, which raises or reports as it
always did: a text not seen valid yet, an operation name that names no
operation, an operation type the method does not allow, a subscription, a
WebSocket context, a schema with custom directives or incremental delivery.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from graphql import DocumentNode, GraphQLError
from starlette.requests import Request
from strawberry.execution import optimized_is_awaitable
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType
from strawberry.utils.await_maybe import await_maybe
from strawberry.utils.operation import get_first_operation, get_operation_type

from schema.errors import client_errors
from schema.observe import record

if TYPE_CHECKING:
    from strawberry.schema import Schema

_LEAN_TYPES = frozenset({OperationType.QUERY, OperationType.MUTATION})


class ValidDocuments:
    """Parsed documents by their text, each seen valid once, at most ``size`` of them."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._documents: dict[str, DocumentNode] = {}

    def add(self, query: str, document: DocumentNode) -> None:
        if len(self._documents) >= self.size:
            self._documents.clear()
        self._documents[query] = document

    def get(self, query: str) -> DocumentNode | None:
        return self._documents.get(query)


def _operation_name(document: DocumentNode, provided: str | None) -> str | None:
    """The name Strawberry passes on: the one given, else the first operation's."""
    if provided is not None:
        return provided
    first = get_first_operation(document)
    return first.name.value if first is not None and first.name is not None else None


async def execute(
    schema: Schema,
    documents: ValidDocuments,
    *,
    query: str | None,
    variable_values: dict[str, Any] | None,
    context_value: Any,
    root_value: Any,
    operation_name: str | None,
    allowed_operation_types: Iterable[OperationType],
    operation_extensions: dict[str, Any] | None,
    hide_suggestions: bool,
) -> ExecutionResult | None:
    """The result Strawberry's ``Schema.execute`` would give, or None when
    this operation must take Strawberry's path."""
    if query is None or not isinstance(getattr(context_value, "request", None), Request):
        return None
    if schema.directives or schema.config.enable_experimental_incremental_execution:
        return None
    document = documents.get(query)
    if document is None:
        return None
    name = _operation_name(document, operation_name)
    try:
        operation_type = get_operation_type(document, name)
    except RuntimeError:
        return None
    if operation_type not in _LEAN_TYPES or operation_type not in allowed_operation_types:
        return None
    result: ExecutionResult
    try:
        done = await await_maybe(
            schema._get_execute_function()(
                schema._schema,
                document,
                root_value=root_value,
                variable_values=variable_values,
                operation_name=name,
                context_value=context_value,
                is_awaitable=optimized_is_awaitable,
                executor_class=schema.execution_context_class,
                operation_extensions=operation_extensions,
            )
        )
        result = ExecutionResult(data=done.data, errors=done.errors, extensions={})
    except Exception as exc:  # as Strawberry: the error is the result
        error = exc if isinstance(exc, GraphQLError) else GraphQLError(str(exc), original_error=exc)
        result = PreExecutionError(data=None, errors=[error], extensions={})
    if result.errors:
        schema.process_errors(result.errors)
        result.errors = client_errors(result.errors, hide_suggestions=hide_suggestions)
    record(operation_type.value, name, result.errors or [])
    return result
