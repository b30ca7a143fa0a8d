"""The GraphQL schema: per-domain pieces merged into the root types."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import DisableIntrospection, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.name_converter import NameConverter
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.arguments import StrawberryArgument
from strawberry.types.graphql import OperationType

from core.settings import Settings
from schema import lean
from schema.chat import ChatMutations, ChatQueries, ChatSubscriptions
from schema.errors import ErrorCodes, log_unexpected
from schema.fanout import FanoutExecutor
from schema.fast import FastExecutionContext
from schema.files import FileMutations, FileQueries
from schema.limits import CACHE_SIZE, Limits, QueryLimits
from schema.mentions import MentionSubscriptions
from schema.message_changes import MessageChangeMutations, MessageChangeSubscriptions
from schema.observe import OperationMetrics
from schema.presence import PresenceMutations, PresenceQueries, PresenceSubscriptions
from schema.products import ProductMutations, ProductQueries
from schema.reactions import ReactionMutations, ReactionQueries
from schema.read_markers import ReadMarkerMutations, ReadMarkerQueries, ReadMarkerSubscriptions
from schema.resources import ResourceMutations, ResourceQueries
from schema.search import SearchQueries
from schema.subscriptions import WebSocketSession
from schema.sync import SyncQueries
from schema.users import UserMutations, UserQueries


@strawberry.type
class Query(
    UserQueries,
    ProductQueries,
    FileQueries,
    ResourceQueries,
    ChatQueries,
    ReactionQueries,
    SearchQueries,
    ReadMarkerQueries,
    SyncQueries,
    PresenceQueries,
):
    pass


@strawberry.type
class Mutation(
    UserMutations,
    ProductMutations,
    FileMutations,
    ResourceMutations,
    ChatMutations,
    MessageChangeMutations,
    ReactionMutations,
    ReadMarkerMutations,
    PresenceMutations,
):
    pass


@strawberry.type
class Subscription(
    ChatSubscriptions,
    MessageChangeSubscriptions,
    MentionSubscriptions,
    ReadMarkerSubscriptions,
    PresenceSubscriptions,
):
    pass


class Schema(strawberry.Schema):
    """Strawberry's schema; an HTTP operation whose document was seen valid
    skips Strawberry's extension machinery (:mod:`schema.lean`)."""

    def __init__(
        self,
        *args: Any,
        valid_documents: lean.ValidDocuments,
        hide_suggestions: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.valid_documents = valid_documents  # filled by QueryLimits
        self.hide_suggestions = hide_suggestions

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        if allowed_operation_types is not None:
            result = await lean.execute(
                self,
                self.valid_documents,
                query=query,
                variable_values=variable_values,
                context_value=context_value,
                root_value=root_value,
                operation_name=operation_name,
                allowed_operation_types=allowed_operation_types,
                operation_extensions=operation_extensions,
                hide_suggestions=self.hide_suggestions,
            )
            if result is not None:
                return result
        return await super().execute(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed_operation_types,
            operation_extensions,
        )

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Strawberry's default logs every error, client mistakes included.
        log_unexpected(errors)


class ArgumentNames(NameConverter):
    """Strawberry's names, each argument's computed once: Strawberry converts
    every argument name of a field (to_camel_case, five calls each) each
    time the field runs."""

    def __init__(self) -> None:
        super().__init__()
        self._arguments: dict[StrawberryArgument, str] = {}

    def from_argument(self, argument: StrawberryArgument) -> str:
        name = self._arguments.get(argument)
        if name is None:
            name = self._arguments[argument] = super().from_argument(argument)
        return name


class Executor(FanoutExecutor, FastExecutionContext):
    """graphql-core's executor with plain objects completed in one loop
    (:mod:`schema.fast`), whose live subscriptions are served by their group
    (:mod:`schema.fanout`)."""


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    limits = Limits(
        max_depth=settings.graphql_max_depth,
        max_aliases=settings.graphql_max_aliases,
        max_directives=settings.graphql_max_directives,
        max_cost=settings.graphql_max_cost,
        max_tokens=settings.graphql_max_tokens,
        max_fields=settings.graphql_max_fields,
    )
    valid = lean.ValidDocuments(CACHE_SIZE)
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        OperationMetrics,
        lambda: ErrorCodes(hide_suggestions=settings.production),
        lambda: QueryLimits(limits, valid),
        WebSocketSession,
    ]
    if not settings.introspection:
        extensions.append(DisableIntrospection)
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(
            disable_field_suggestions=settings.production, name_converter=ArgumentNames()
        ),
        execution_context_class=Executor,
        valid_documents=valid,
        hide_suggestions=settings.production,
    )
