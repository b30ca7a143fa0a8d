"""Maps domain errors onto GraphQL ``extensions.code``, once for the schema.

- a :class:`core.errors.ComptoirError` keeps its message and carries its code;
- an error raised before execution (syntax, validation, variable coercion)
  is the client's: BAD_USER_INPUT with graphql-core's message;
- anything else is a bug: logged with its stack, and the client only sees
  INTERNAL_SERVER_ERROR with a fixed message.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from core.errors import INTERNAL_MESSAGE, ComptoirError

log = logging.getLogger("comptoir.graphql")


def _root_cause(error: GraphQLError) -> BaseException | None:
    original: BaseException | None = error.original_error
    while isinstance(original, GraphQLError) and original.original_error is not None:
        original = original.original_error
    return original


def client_error(error: GraphQLError) -> GraphQLError:
    if error.extensions and "code" in error.extensions:
        return error
    original = _root_cause(error)
    if isinstance(original, ComptoirError):
        message, extensions = original.message, original.extensions()
    elif original is None or isinstance(original, GraphQLError) or error.path is None:
        message, extensions = error.message, {"code": "BAD_USER_INPUT"}
    else:
        log.error(
            "unexpected error in %s",
            ".".join(str(p) for p in error.path),
            exc_info=(type(original), original, original.__traceback__),
        )
        message, extensions = INTERNAL_MESSAGE, {"code": "INTERNAL_SERVER_ERROR"}
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=extensions,
    )


class ErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and getattr(result, "errors", None):
            result.errors = [client_error(e) for e in result.errors]  # type: ignore[union-attr]
        pre = self.execution_context.pre_execution_errors
        if pre:
            self.execution_context.pre_execution_errors = [client_error(e) for e in pre]
