"""Maps domain errors onto GraphQL ``extensions.code``, once for the schema.

- a :class:`core.errors.ComptoirError` keeps its message and carries its code;
- an error raised before execution (syntax, validation, variable coercion)
  is the client's: BAD_USER_INPUT with graphql-core's message (without its
  "Did you mean ...?" hints in production, which would reveal the schema);
- anything else is a bug: logged with its stack, and the client only sees
  INTERNAL_SERVER_ERROR with a fixed message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from core.errors import INTERNAL_MESSAGE, ComptoirError

log = logging.getLogger("comptoir.graphql")

# graphql-core's hints name fields, arguments, types and enum values.
_SUGGESTION = re.compile(r"\s*Did you mean .*$", re.DOTALL)
TOO_DEEP_MESSAGE = "The document is nested too deeply."


def _root_cause(error: GraphQLError) -> BaseException | None:
    original: BaseException | None = error.original_error
    while isinstance(original, GraphQLError) and original.original_error is not None:
        original = original.original_error
    return original


def without_suggestions(message: str) -> str:
    return _SUGGESTION.sub("", message)


def unexpected_cause(error: GraphQLError) -> BaseException | None:
    """The exception behind ``error`` when it is a bug rather than the client's doing."""
    original = _root_cause(error)
    if (
        original is None
        or error.path is None
        or isinstance(original, ComptoirError | GraphQLError | RecursionError)
    ):
        return None
    return original


def log_unexpected(errors: list[GraphQLError]) -> None:
    """Log bugs with their stack; client errors (codes) are not worth a line."""
    for error in errors:
        cause = unexpected_cause(error)
        if cause is not None:
            log.error(
                "unexpected error in %s",
                ".".join(str(p) for p in error.path or ()),
                exc_info=(type(cause), cause, cause.__traceback__),
            )


def client_error(error: GraphQLError, *, hide_suggestions: bool = False) -> GraphQLError:
    if error.extensions and "code" in error.extensions:
        return error
    original = _root_cause(error)
    if isinstance(original, ComptoirError):
        message, extensions = original.message, original.extensions()
    elif isinstance(original, RecursionError):
        message, extensions = TOO_DEEP_MESSAGE, {"code": "BAD_USER_INPUT"}
    elif original is None or isinstance(original, GraphQLError) or error.path is None:
        message, extensions = error.message, {"code": "BAD_USER_INPUT"}
        if hide_suggestions:
            message = without_suggestions(message)
    else:  # logged by log_unexpected (Schema.process_errors)
        message, extensions = INTERNAL_MESSAGE, {"code": "INTERNAL_SERVER_ERROR"}
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=extensions,
    )


def client_errors(errors: list[GraphQLError], *, hide_suggestions: bool) -> list[GraphQLError]:
    return [client_error(e, hide_suggestions=hide_suggestions) for e in errors]


class ErrorCodes(SchemaExtension):
    def __init__(self, *, hide_suggestions: bool = False) -> None:
        super().__init__()
        self.hide_suggestions = hide_suggestions

    def _map(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return client_errors(errors, hide_suggestions=self.hide_suggestions)

    def on_validate(self) -> Iterator[None]:
        yield
        # In place: a subscription's PreExecutionError holds this very list and
        # is sent before on_operation resumes.
        pre = self.execution_context.pre_execution_errors
        if pre:
            pre[:] = self._map(pre)

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors: list[GraphQLError] | None = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = self._map(errors)
        pre = self.execution_context.pre_execution_errors
        if pre:
            self.execution_context.pre_execution_errors = self._map(pre)
