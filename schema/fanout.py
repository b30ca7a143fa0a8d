"""GraphQL subscriptions at WebSocket speed: one execution per group per event.

graphql-core runs a subscription's selection once per event *per
subscriber*. Here the subscribers of a live feed are grouped (the idea of
Apollo Router's subscription deduplication and of Hasura's multiplexed
subscriptions) by channel, operation, coerced variables and *viewer class*
(:mod:`schema.fanout_keys`: two viewers who could see different data are
never in one group).

A subscription resolver returns a :class:`LiveSource`. Served by the
graphql-transport-ws handler of :mod:`schema.live_transport`, the source
never yields: its subscriber is a :class:`resolvers.live.Listener`. The
feed hands an event to all its subscribers in one call
(``Subscriber.deliver_many``), which appends ``(event, members)`` to each
group's queue once. The group's worker executes the selection once per
event, on a fresh per-event executor and context (fresh DataLoaders:
``author { displayName }`` costs one query per group, not one per
subscriber), serializes the ``next`` message once per operation id (most
clients use the same few ids) as a ready WebSocket frame
(:mod:`core.wire`), and writes those bytes to every subscriber. It yields
to the event loop every :data:`WRITE_CHUNK` writes, so a fan-out never
starves the process.

graphql-core 3.3.2's per-event executors are shallow copies that share one
field cache (``_relevant_sub_fields``), which grows by about 2 KiB per event
for the life of a subscription. Each execution here gets a cache of its own,
dropped with the executor: memory does not grow with the number of events.

Outside that handler (any other caller of ``Schema.subscribe``), a
:class:`LiveSource` is the plain per-subscriber stream of
:func:`schema.subscriptions.live_stream`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import AsyncGenerator, Callable
from contextvars import ContextVar
from typing import Any, Generic, Protocol, TypeVar

from graphql import GraphQLError
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from core import metrics, runtime, wire
from core.errors import ComptoirError, Unauthenticated
from core.security import AccessClaims
from resolvers import live, membership_events
from resolvers.events import Event
from resolvers.membership_events import MemberLeft
from schema.context import Context
from schema.errors import client_error, log_unexpected
from schema.fanout_keys import GroupKey, group_key
from schema.outbox import GRAPHQL
from schema.subscriptions import SESSION_ENDED, graphql_error, left_room, live_stream

log = logging.getLogger("comptoir.graphql")
T = TypeVar("T")

WRITE_CHUNK = 64
"""Writes between two yields to the event loop during a fan-out."""

_DELIVERIES = metrics.WS_DELIVERIES.labels(GRAPHQL)
_FRAMES_OUT = metrics.WS_FRAMES.labels(GRAPHQL, "out")


class Target(Protocol):
    """Where one subscription's payloads go: an operation of one socket."""

    id_json: str  # the operation id, as JSON

    def write_shared(self, text: str, frame: bytes) -> bool:
        """Queue a message, also given as a WebSocket text frame shared with
        other sockets; never blocks (a slow reader is closed instead). False
        when nothing was written; the fan-out counts writes in the metrics."""
        ...

    def adopt(self, subscriber: Subscriber) -> None:
        """The operation is now served by ``subscriber``: its task may end."""
        ...

    def finish(self, error: GraphQLError | None) -> None:
        """End the operation: a ``next`` with ``error`` if any, then ``complete``."""
        ...


TARGET: ContextVar[tuple[Target, Fanout] | None] = ContextVar("comptoir_target", default=None)
"""Set by the transport around a subscription's operation: where its payloads go."""


class Handover(BaseException):
    """Raised out of a grouped subscription's stream once its group serves it:
    the transport lets the operation's task end, and no per-subscription
    task, generator or executor stays behind (a BaseException, so that the
    layers in between do not turn it into an error result)."""


class FanoutExecutor(StrawberryGraphQLCoreExecutionContext):
    """Hands each :class:`LiveSource` the executor of its subscription."""

    def cancellable_iterable(self, iterable: Any) -> Any:
        if isinstance(iterable, LiveSource):
            iterable.executor = self
        return super().cancellable_iterable(iterable)


class LiveSource(Generic[T]):
    """What a live subscription resolver returns: a channel from ``after`` on,
    while the session of ``claims`` lasts, each event rendered by ``render``
    (None: not for this subscription).

    Served by the graphql-transport-ws handler, it joins a group and hands
    its operation over; iterated by anything else (``Schema.subscribe``), it
    is :func:`schema.subscriptions.live_stream`.
    """

    def __init__(
        self,
        claims: AccessClaims,
        channel: str,
        after: int | None,
        render: Callable[[Event], T | None],
    ) -> None:
        self.claims = claims
        self.channel = channel
        self.after = after
        self.render = render
        self.executor: FanoutExecutor | None = None
        self._stream: AsyncGenerator[T, None] | None = None

    def __aiter__(self) -> LiveSource[T]:
        return self

    async def __anext__(self) -> T:
        target = TARGET.get()
        if self._stream is None and self.executor is not None and target is not None:
            await self._hand_over(*target)
        if self._stream is None:
            self._stream = live_stream(self.claims, self.channel, self.after, self.render)
        return await anext(self._stream)

    async def aclose(self) -> None:
        if self._stream is not None:
            await self._stream.aclose()

    async def _hand_over(self, target: Target, fanout: Fanout) -> None:
        """Join a group, attach to the live feed, then hand the operation over."""
        assert self.executor is not None
        executor, self.executor = self.executor, None
        subscriber = fanout.join(self, target, executor)
        feeds = live.get()
        try:
            try:
                subscriber.watch = await feeds.watch_session(self.claims, subscriber.session_ended)
            except Unauthenticated:
                raise graphql_error(_session_ended()) from None
            try:
                await feeds.attach(self.channel, subscriber, after=self.after)
            except ComptoirError as error:
                raise graphql_error(error) from None
        except BaseException:
            subscriber.end(None)
            raise
        if subscriber.active:
            subscriber.live = True
            target.adopt(subscriber)
        if subscriber.group.template is not executor:
            # Its group executes with another: this one is dropped, and its
            # helpers (bound methods of its own) would keep it in a reference
            # cycle, for the collector to find much later.
            del executor.async_helpers
        raise Handover


def _session_ended() -> ComptoirError:
    return Unauthenticated(SESSION_ENDED)


class Subscriber:
    """One grouped subscription: the live module's listener for it, and all
    that remains of it once handed over."""

    __slots__ = ("active", "channel", "group", "live", "render", "target", "user_id", "watch")

    def __init__(self, group: Group, source: LiveSource[Any], target: Target) -> None:
        self.group = group
        self.channel = source.channel
        self.render = source.render
        self.user_id = source.claims.user_id
        self.target = target
        self.watch: Any = None
        self.active = True
        self.live = False  # attached: every event from now on reaches it

    def deliver(self, event: Event) -> None:
        if membership_events.ends(event, self.user_id):
            self.end(graphql_error(left_room()))  # nothing after the leave is pushed
            return
        self.group.push(event, [self])

    @staticmethod
    def deliver_many(event: Event, subscribers: list[Subscriber]) -> None:
        """A resolvers.live batch: one queue entry per group, not per subscriber."""
        if isinstance(event, MemberLeft):
            for subscriber in subscribers:
                subscriber.deliver(event)
            return
        groups: dict[Group, list[Subscriber]] = {}
        for subscriber in subscribers:
            groups.setdefault(subscriber.group, []).append(subscriber)
        for group, members in groups.items():
            group.push(event, members)

    async def drained(self) -> None:
        """Between replay pages: wait until the group has written what it holds."""
        await self.group.idle()

    def lost(self, error: ComptoirError) -> None:
        self.end(graphql_error(error))

    def session_ended(self, _: ComptoirError) -> None:
        self.end(graphql_error(_session_ended()))

    def end(self, error: GraphQLError | None) -> None:
        """Stop listening; with an error, tell the client (then ``complete``).

        ``end(None)`` is the client's doing (``complete``, a closed socket):
        nothing is sent.
        """
        if not self.active:
            return
        self.active = False
        if self.watch is not None:
            self.watch.cancel()
        live.get().detach(self.channel, self)
        self.group.fanout.leave(self)
        if error is not None:
            self.target.finish(error)


class Group:
    """Subscribers that get the very same payload for every event."""

    def __init__(self, fanout: Fanout, key: GroupKey, template: FanoutExecutor) -> None:
        self.fanout = fanout
        self.key = key
        self.template = template
        self.members: set[Subscriber] = set()
        self.queue: deque[tuple[Event, list[Subscriber]]] = deque()
        self.task: asyncio.Task[None] | None = None
        self.executions = 0

    async def idle(self) -> None:
        while self.task is not None:
            await asyncio.wait([self.task])

    def push(self, event: Event, subscribers: list[Subscriber]) -> None:
        if self.fanout.closed:
            return
        self.queue.append((event, subscribers))
        if self.task is None:
            self._start()

    def _start(self) -> None:
        self.task = asyncio.create_task(self._run())
        self.fanout.running.add(self.task)
        self.task.add_done_callback(self.fanout.running.discard)

    async def _run(self) -> None:
        try:
            while self.queue:
                event, batch = self.queue.popleft()
                while self.queue and self.queue[0][0] is event:
                    batch = batch + self.queue.popleft()[1]
                if not any(subscriber.active for subscriber in batch):
                    continue  # all gone meanwhile: executed for nobody
                head = await self._execute(event, batch[0].render)
                if head is None:
                    continue
                await self._write_all(head, batch)
        except Exception:
            log.exception("subscription fan-out failed")
        finally:
            self.task = None
            if self.queue and not self.fanout.closed:  # arrived while the last write yielded
                self._start()

    async def _write_all(self, head: str, batch: list[Subscriber]) -> None:
        """The ``next`` message (``head``, then the operation id) is built and
        framed once per operation id: each socket gets those bytes."""
        shared: dict[str, tuple[str, bytes]] = {}
        sent = 0
        for done, subscriber in enumerate(batch, 1):
            if subscriber.active:
                target = subscriber.target
                message = shared.get(target.id_json)
                if message is None:
                    message = shared[target.id_json] = _message(head, target.id_json)
                sent += target.write_shared(*message)
            if done % WRITE_CHUNK == 0:
                await asyncio.sleep(0)
        _DELIVERIES.inc(sent)
        _FRAMES_OUT.inc(sent)

    async def _execute(self, event: Event, render: Callable[[Event], Any]) -> str | None:
        """The ``next`` message for ``event``, up to its id (appended per
        subscriber); None when the event is not for this subscription."""
        value = render(event)
        if value is None:
            return None
        self.executions += 1
        viewer: Context = self.template.context_value
        context = Context(
            request=viewer.request,
            response=None,
            client_ip=viewer.client_ip,
            user=viewer.user,
            claims=viewer.claims,
        )
        # A fresh executor per event, with a field cache of its own (see the module doc).
        executor = self.template.build_per_event_executor(value)
        executor.context_value = context
        executor._relevant_sub_fields = {}
        result: Any = executor.execute_operation(False)
        if executor.is_awaitable(result):
            result = await result
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            errors: list[GraphQLError] = list(result.errors)
            log_unexpected(errors)
            hide = runtime.get().settings.production
            payload["errors"] = [client_error(e, hide_suggestions=hide).formatted for e in errors]
        return '{"type":"next","payload":' + json.dumps(payload, separators=(",", ":")) + ',"id":'


def _message(head: str, id_json: str) -> tuple[str, bytes]:
    text = head + id_json + "}"
    return text, wire.text_frame(text.encode())


class Fanout:
    """This process's groups of GraphQL subscribers."""

    def __init__(self) -> None:
        self.groups: dict[GroupKey, Group] = {}
        # Groups' workers at work, also of groups every member has left.
        self.running: set[asyncio.Task[None]] = set()
        self.closed = False

    async def close(self) -> None:
        """Execute nothing more: the workers still at work are cancelled and
        awaited, so that none outlives the runtime it executes with."""
        self.closed = True
        tasks = list(self.running)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2)

    def join(self, source: LiveSource[Any], target: Target, executor: FanoutExecutor) -> Subscriber:
        key = group_key(source.channel, executor)
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = Group(self, key, executor)
        subscriber = Subscriber(group, source, target)
        group.members.add(subscriber)
        return subscriber

    def leave(self, subscriber: Subscriber) -> None:
        group = subscriber.group
        group.members.discard(subscriber)
        if not group.members and self.groups.get(group.key) is group:
            del self.groups[group.key]

    @property
    def subscribers(self) -> int:
        """Subscriptions served live right now."""
        return sum(m.live for g in self.groups.values() for m in g.members)
