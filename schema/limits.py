"""Limits on what one GraphQL document may ask for, checked before validation.

A document is refused with BAD_USER_INPUT, before the GraphQL validation
rules run and before anything executes, when any of these is over its limit:

- tokens (checked by the parser itself, so a huge document is never built);
- depth: nested selection sets (introspection fields excepted, which
  graphql-core's ``MaxIntrospectionDepthRule`` bounds instead);
- fields, aliases and directives, counted through fragments: a fragment
  spread ten times counts ten times, so fragments cannot amplify a small
  document (the field count also bounds the spec's overlapping-fields rule,
  quadratic in the fields that share a name);
- cost: every field costs 1, and the selections under a field are counted
  once per item it may return: ``first``/``last`` (the resolver's default
  page when left out: :data:`DEFAULT_PAGE` metadata, or the argument's
  declared default, as for ``rooms`` and ``members``; :data:`MAX_PAGE` when the
  value comes from a variable or has no default, since the resolvers clamp
  page sizes to it), :data:`LIST_FACTOR` for a list without paging, and once
  for the ``edges`` of a connection, whose size the connection already
  counted, and for the lists of introspection types (small and in memory).

Fragments are measured once each (memoized), so the check is linear in the
size of the document even when fragments spread each other exponentially;
fragment cycles measure as empty here and are refused by the spec's
``NoFragmentCyclesRule``. Results are cached per document, as parsing and
validation are.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    get_nullable_type,
    parse,
)
from graphql.validation import ASTValidationRule
from graphql.validation.rules.max_introspection_depth_rule import MaxIntrospectionDepthRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from resolvers.limits import MAX_PAGE
from schema.lean import ValidDocuments

# How many items a list field without first/last counts for.
LIST_FACTOR = 10
# Documents longer than this are parsed and validated every time rather
# than cached, so that caches hold at most CACHE_SIZE small documents.
CACHEABLE_CHARS = 16 * 1024
CACHE_SIZE = 512
LIMIT_CODE = {"code": "BAD_USER_INPUT"}


@dataclass(frozen=True, slots=True)
class Limits:
    max_depth: int
    max_aliases: int
    max_directives: int
    max_cost: int
    max_tokens: int
    max_fields: int = 500


@dataclass(slots=True)
class Measure:
    depth: int = 0
    fields: int = 0
    aliases: int = 0
    directives: int = 0
    cost: int = 0

    def add(self, other: Measure, *, times: int = 1) -> None:
        self.depth = max(self.depth, other.depth)
        self.fields += other.fields
        self.aliases += other.aliases
        self.directives += other.directives
        self.cost += other.cost * times


class _Measurer:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode) -> None:
        self.schema = schema
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.done: dict[str, Measure] = {}
        self.active: set[str] = set()

    def fragment(self, name: str) -> Measure:
        known = self.done.get(name)
        if known is not None:
            return known
        definition = self.fragments.get(name)
        if definition is None or name in self.active:
            return Measure()  # unknown or cyclic: refused by the spec's rules
        self.active.add(name)
        try:
            parent = self.schema.get_type(definition.type_condition.name.value)
            measure = self.selections(definition.selection_set, parent)
            measure.directives += len(definition.directives or ())
        finally:
            self.active.discard(name)
        self.done[name] = measure
        return measure

    def selections(
        self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType | None
    ) -> Measure:
        total = Measure()
        if selection_set is None:
            return total
        for selection in selection_set.selections:
            total.directives += len(selection.directives or ())
            if isinstance(selection, FieldNode):
                total.add(self.field(selection, parent))
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                total.add(self.selections(selection.selection_set, inner))
            elif isinstance(selection, FragmentSpreadNode):
                total.add(self.fragment(selection.name.value))
        return total

    def field(self, node: FieldNode, parent: GraphQLNamedType | None) -> Measure:
        definition = _field_definition(parent, node.name.value)
        child_type = get_named_type(definition.type) if definition else None
        inner = self.selections(node.selection_set, child_type)
        measure = Measure(fields=1 + inner.fields, aliases=1 if node.alias else 0)
        introspection = node.name.value.startswith("__")
        if node.selection_set is not None and not introspection:
            measure.depth = 1 + inner.depth
        times = 1 if introspection else _multiplier(node, definition, parent)
        measure.add(Measure(aliases=inner.aliases, directives=inner.directives))
        measure.cost = 1 + times * inner.cost
        return measure


def _field_definition(parent: GraphQLNamedType | None, name: str) -> GraphQLField | None:
    if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        field: GraphQLField | None = parent.fields.get(name)
        return field
    return None


def _multiplier(
    node: FieldNode, definition: GraphQLField | None, parent: GraphQLNamedType | None
) -> int:
    if definition is None or (parent is not None and parent.name.startswith("__")):
        return 1
    if "first" in definition.args or "last" in definition.args:
        sizes = [
            min(max(int(arg.value.value), 0), MAX_PAGE)
            for arg in node.arguments or ()
            if arg.name.value in {"first", "last"} and isinstance(arg.value, IntValueNode)
        ]
        others = [
            arg
            for arg in node.arguments or ()
            if arg.name.value in {"first", "last"} and not isinstance(arg.value, IntValueNode)
        ]
        if others:
            return MAX_PAGE
        return max(sizes) if sizes else _default_page(definition)
    if isinstance(get_nullable_type(definition.type), GraphQLList):
        if parent is not None and parent.name.endswith("Connection"):
            return 1
        return LIST_FACTOR
    return 1


# strawberry.field(metadata={DEFAULT_PAGE: n}): the page size a connection's
# resolver uses when neither first nor last is given (not a schema default).
DEFAULT_PAGE = "default_page"


def _default_page(definition: GraphQLField) -> int:
    """The page a field returns when neither ``first`` nor ``last`` is given:
    the resolver's default (``DEFAULT_PAGE`` metadata), or the declared
    argument default (``rooms(first: Int! = 20)``), else MAX_PAGE."""
    field = (definition.extensions or {}).get("strawberry-definition")
    declared = getattr(field, "metadata", None) or {}
    if isinstance(declared.get(DEFAULT_PAGE), int):
        return min(max(int(declared[DEFAULT_PAGE]), 0), MAX_PAGE)
    defaults = [
        arg.default_value
        for name, arg in definition.args.items()
        if name in {"first", "last"}
        and isinstance(arg.default_value, int)
        and not isinstance(arg.default_value, bool)
    ]
    return min(max(max(defaults), 0), MAX_PAGE) if defaults else MAX_PAGE


def measure_operations(schema: GraphQLSchema, document: DocumentNode) -> list[Measure]:
    measurer = _Measurer(schema, document)
    result = []
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            root = schema.get_root_type(definition.operation)
            measure = measurer.selections(definition.selection_set, root)
            measure.directives += len(definition.directives or ())
            result.append(measure)
    return result


def check_limits(
    schema: GraphQLSchema, document: DocumentNode, limits: Limits
) -> list[GraphQLError]:
    """The limit errors of ``document``: empty when it is within every limit."""
    try:
        measures = measure_operations(schema, document)
    except RecursionError:
        return [GraphQLError("The document is nested too deeply.", extensions=LIMIT_CODE)]
    worst = Measure()
    for measure in measures:
        worst.depth = max(worst.depth, measure.depth)
        worst.fields = max(worst.fields, measure.fields)
        worst.aliases = max(worst.aliases, measure.aliases)
        worst.directives = max(worst.directives, measure.directives)
        worst.cost = max(worst.cost, measure.cost)
    checks = [
        ("depth", worst.depth, limits.max_depth, "GRAPHQL_MAX_DEPTH"),
        ("fields", worst.fields, limits.max_fields, "GRAPHQL_MAX_FIELDS"),
        ("aliases", worst.aliases, limits.max_aliases, "GRAPHQL_MAX_ALIASES"),
        ("directives", worst.directives, limits.max_directives, "GRAPHQL_MAX_DIRECTIVES"),
        ("cost", worst.cost, limits.max_cost, "GRAPHQL_MAX_COST"),
    ]
    return [
        GraphQLError(
            f"Query {what} {value} is over the limit of {limit}.",
            extensions={**LIMIT_CODE, "limit": what, "max": limit},
        )
        for what, value, limit, _variable in checks
        if value > limit
    ]


@lru_cache(maxsize=CACHE_SIZE)
def _cached_parse(query: str, max_tokens: int) -> DocumentNode:
    return parse(query, max_tokens=max_tokens)


class QueryLimits(SchemaExtension):
    """Parse (cached, token-limited), check :class:`Limits`, then validate (cached).

    Replaces strawberry's ParserCache, ValidationCache, MaxTokensLimiter,
    QueryDepthLimiter and MaxAliasesLimiter: those measure fragments again at
    every spread (exponential in the number of fragments), and their caches
    keep documents of any size.
    """

    def __init__(self, limits: Limits, valid: ValidDocuments | None = None) -> None:
        super().__init__()
        self.limits = limits
        self.valid = valid  # where a cached document that passed is recorded

    def on_operation(self) -> Iterator[None]:
        self.execution_context.parse_options["max_tokens"] = self.limits.max_tokens
        yield

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query
        if context.graphql_document is None and query and len(query) <= CACHEABLE_CHARS:
            try:
                context.graphql_document = _cached_parse(query, self.limits.max_tokens)
            except GraphQLError:
                # Left unparsed: strawberry parses again and reports the error
                # as a request error (an exception here would lose its code).
                pass
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document, query = context.graphql_document, context.query
        if context.pre_execution_errors is None and document is not None:
            schema = context.schema._schema
            rules = (*context.validation_rules, MaxIntrospectionDepthRule)
            if query and len(query) <= CACHEABLE_CHARS:
                errors = list(_cached_errors(schema, query, self.limits, rules))
                if not errors and self.valid is not None:
                    self.valid.add(query, document)
            else:
                errors = _errors(schema, document, self.limits, rules)
            context.pre_execution_errors = errors
        yield


def _errors(
    schema: GraphQLSchema,
    document: DocumentNode,
    limits: Limits,
    rules: tuple[type[ASTValidationRule], ...],
) -> list[GraphQLError]:
    return check_limits(schema, document, limits) or validate_document(schema, document, rules)


@lru_cache(maxsize=CACHE_SIZE)
def _cached_errors(
    schema: GraphQLSchema,
    query: str,
    limits: Limits,
    rules: tuple[type[ASTValidationRule], ...],
) -> tuple[GraphQLError, ...]:
    # Keyed by the text: hashing a document would walk all of it.
    document = _cached_parse(query, limits.max_tokens)
    return tuple(_errors(schema, document, limits, rules))
