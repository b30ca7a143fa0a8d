"""GraphQL metrics: operations by name and type, errors by code.

Listed first among the schema's extensions, so that its ``on_operation``
resumes last, once :class:`schema.errors.ErrorCodes` gave every error its code.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from core import metrics

UNKNOWN = "unknown"


def record(kind: str, name: str | None, errors: list[GraphQLError]) -> None:
    """Count one operation and its (coded) errors."""
    metrics.GRAPHQL_OPERATIONS.labels(metrics.operation_label(name), kind).inc()
    for error in errors:
        code = (error.extensions or {}).get("code", UNKNOWN)
        metrics.GRAPHQL_ERRORS.labels(str(code)).inc()


class OperationMetrics(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context
        try:
            kind = context.operation_type.value
        except Exception:  # the document did not parse, or names no operation
            kind = UNKNOWN
        # A request error is in both lists; the result has the coded copies.
        result = context.result
        errors: list[GraphQLError] = (
            (getattr(result, "errors", None) or [])
            if result is not None
            else (context.pre_execution_errors or [])
        )
        record(kind, context.operation_name, errors)
