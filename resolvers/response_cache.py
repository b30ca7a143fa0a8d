"""The response cache: public catalogue reads answered from memory, never
from before an acknowledged write.

**What may be cached** (the rule, here once). A read is cacheable when
every root field of it is a *catalogue read* and nothing it reaches
depends on who asks:

- a catalogue read is public (no entry of the permission table guards it:
  anyone, signed in or not, gets the same rows) and reads the catalogue,
  whose every write goes through :func:`catalogue_write`. The GraphQL door
  marks such fields ``metadata=CATALOGUE_READ`` (``Query.products``,
  ``Query.product``) and asks :func:`cacheable` with what a document
  selects; the REST door's ``GET /products`` is the catalogue listing;
- a field marked ``VIEWER_DEPENDENT`` (``schema.fanout``) anywhere in the
  selection makes it uncacheable.

Everything a catalogue read's type reaches counts as catalogue data: a
field added under ``Product`` that reads anything else (a user, a room)
must be ``VIEWER_DEPENDENT``, or its events must move the version too.

**Key**: what the door says the request is (GraphQL: document, operation
name, variables; REST: path and parameters), the *viewer class*, and the
catalogue's *version*. The viewer class is how the permission table tells
callers apart without looking at who they are: anonymous (no rule admits
them), member (``AUTHENTICATED``), ADMIN (``ADMIN``). A door that does not
read the viewer at all (REST ``/products``) uses :data:`ANYONE`.

**Never stale after a write** (:mod:`core.versions`): a catalogue write
takes a lease on the version before it changes a row, and bumps the
version after commit, before the door acknowledges it. A read asks for the
version first (one round trip to the broker, none in memory), then looks
up or computes its answer, and stores it under the version it asked for.
An answer stored under version ``v`` was read from the database after
``v`` existed, so after every write acknowledged before ``v`` was bumped
to. Once a write is acknowledged the version is past every version
read before its commit: no later read can meet an older answer, on any
process. While a write is in flight (a lease held), or when the broker
does not answer, there is no version: the read *bypasses* the cache
(computed, not stored). The :class:`~resolvers.catalogue_events.ProductChanged`
event each write publishes only lets every process drop its older entries
at once.

Bounded by ``RESPONSE_CACHE_MAX_ENTRIES`` and ``RESPONSE_CACHE_MAX_BYTES``
(response bodies), least recently used first out.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Hashable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from enum import StrEnum

from core import metrics, runtime
from core.errors import ComptoirError, ServiceUnavailable
from core.settings import Settings
from core.versions import BROKER_ERRORS, Versions, build_versions
from resolvers import live, permissions
from resolvers.catalogue_events import CATALOGUE_CHANNEL, ProductChanged
from resolvers.events import Event
from resolvers.permissions import Actor, Rule

log = logging.getLogger("comptoir.response_cache")

CATALOGUE = "catalogue"
SCOPE = "comptoir.response_cache"
CATALOGUE_READ: dict[str, object] = {SCOPE: CATALOGUE}
"""``strawberry.field(metadata=CATALOGUE_READ)``: a public read of the catalogue."""

HIT, MISS, BYPASS = "hit", "miss", "bypass"
# A writer that dies mid-write holds the cache off this long at most.
WRITE_LEASE_SECONDS = 60.0
BUMP_TRIES = 3
BACKOFF_FIRST = 0.05
BACKOFF_MAX = 0.5
# Following the catalogue channel again after the broker went away: only
# memory waits on it (see _Evictor), so no hurry, and fewer log lines.
FOLLOW_BACKOFF_MAX = 5.0


class ViewerClass(StrEnum):
    ANONYMOUS = "anonymous"
    MEMBER = "member"
    ADMIN = "admin"


ANYONE = "anyone"
"""The class of a door that never reads the viewer (REST ``GET /products``)."""

# The permission table's rules that tell callers apart by class alone.
_ADMIN_ACTIONS = tuple(a for a, p in permissions.TABLE.items() if p.rule is Rule.ADMIN)


def viewer_class(actor: Actor | None) -> ViewerClass:
    if actor is None:
        return ViewerClass.ANONYMOUS
    if all(permissions.allowed(action, actor) for action in _ADMIN_ACTIONS):
        return ViewerClass.ADMIN
    return ViewerClass.MEMBER


def cacheable(scopes: Iterable[object], *, viewer_dependent: bool) -> str | None:
    """The scope a read may be cached under, given the scope each of its root
    fields declares (None: undeclared) and whether it reaches a
    viewer-dependent field; None when it may not be cached."""
    found = set(scopes)
    if viewer_dependent or found != {CATALOGUE}:
        return None
    return CATALOGUE


@dataclass(slots=True)
class _Entry:
    body: bytes
    version: int


class _Store:
    """Answers by key, least recently used first out, bounded in entries and bytes."""

    def __init__(self) -> None:
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self.bytes = 0
        self.floor = 0  # entries under an older version are never asked for again

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: Hashable, entry: _Entry, max_entries: int, max_bytes: int) -> None:
        if entry.version < self.floor or len(entry.body) > max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= len(old.body)
        self._entries[key] = entry
        self.bytes += len(entry.body)
        while len(self._entries) > max_entries or self.bytes > max_bytes:
            _, dropped = self._entries.popitem(last=False)
            self.bytes -= len(dropped.body)

    def evict_below(self, version: int) -> None:
        """Drop what was stored under a version before ``version`` (0: everything)."""
        self.floor = max(self.floor, version)
        stale = [k for k, e in self._entries.items() if version == 0 or e.version < version]
        for key in stale:
            self.bytes -= len(self._entries.pop(key).body)

    def clear(self) -> None:
        self._entries.clear()
        self.bytes = 0


@dataclass(slots=True)
class Lookup:
    """What the cache says of one request: ``state`` is HIT (``body`` is the
    answer), MISS (compute it, then :meth:`store` it) or BYPASS (compute it,
    do not store it)."""

    state: str
    body: bytes | None = None
    _key: Hashable = None
    _version: int = 0
    _cache: ResponseCache | None = field(default=None, repr=False)

    def store(self, body: bytes) -> None:
        if self.state == MISS and self._cache is not None:
            self._cache.store(self._key, _Entry(body, self._version))


class _Evictor:
    """This process's listener of the catalogue channel."""

    def __init__(self, cache: ResponseCache) -> None:
        self.cache = cache
        self.ended = asyncio.Event()

    def deliver(self, event: Event) -> None:
        if isinstance(event, ProductChanged):
            self.cache.entries.evict_below(event.version)

    def lost(self, error: ComptoirError) -> None:
        self.cache.entries.clear()  # events may be missed meanwhile
        self.ended.set()


class ResponseCache:
    def __init__(self, versions: Versions) -> None:
        self.versions = versions
        self.entries = _Store()
        self._task: asyncio.Task[None] | None = None

    @staticmethod
    def _settings() -> Settings:
        return runtime.get().settings

    async def lookup(self, key: Hashable) -> Lookup:
        try:
            version = await self.versions.current(CATALOGUE)
        except BROKER_ERRORS as exc:
            log.debug("response cache bypassed: broker unreachable: %s", exc)
            version = None
        if version is None:
            metrics.RESPONSE_CACHE.labels(BYPASS).inc()
            return Lookup(BYPASS)
        full = (key, version)
        entry = self.entries.get(full)
        if entry is not None:
            metrics.RESPONSE_CACHE.labels(HIT).inc()
            return Lookup(HIT, entry.body)
        metrics.RESPONSE_CACHE.labels(MISS).inc()
        return Lookup(MISS, None, full, version, self)

    def store(self, key: Hashable, entry: _Entry) -> None:
        settings = self._settings()
        self.entries.put(
            key, entry, settings.response_cache_max_entries, settings.response_cache_max_bytes
        )

    async def lease(self) -> str:
        try:
            return await self.versions.lease(CATALOGUE, WRITE_LEASE_SECONDS)
        except BROKER_ERRORS as exc:
            log.warning("catalogue write refused: broker unreachable: %s", exc)
            raise ServiceUnavailable(
                1, "The catalogue cannot change while the broker is unreachable; retry later."
            ) from None

    async def bump(self, token: str) -> int:
        """The new version; 0 when the broker did not take it (the lease then
        holds the cache off until it expires, and its expiry bumps)."""
        delay = BACKOFF_FIRST
        for attempt in range(BUMP_TRIES):
            try:
                version = await self.versions.bump(CATALOGUE, token)
            except BROKER_ERRORS as exc:
                if attempt == BUMP_TRIES - 1:
                    log.error("catalogue version not bumped (lease left to expire): %s", exc)
                    return 0
                await asyncio.sleep(delay)
                delay = min(BACKOFF_MAX, delay * 2)
            else:
                self.entries.evict_below(version)
                return version
        return 0

    # --- the catalogue channel ------------------------------------------------------------

    def follow(self) -> None:
        self._task = asyncio.create_task(self._follow(), name="response cache feed")

    async def _follow(self) -> None:
        backoff = BACKOFF_FIRST
        while True:
            listener = _Evictor(self)
            try:
                await live.get().attach(CATALOGUE_CHANNEL, listener, after=None)
            except ComptoirError:
                await asyncio.sleep(backoff)
                backoff = min(FOLLOW_BACKOFF_MAX, backoff * 2)
                continue
            backoff = BACKOFF_FIRST
            try:
                await listener.ended.wait()
            finally:
                live.get().detach(CATALOGUE_CHANNEL, listener)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])
        await self.versions.close()


_current: ResponseCache | None = None


def get() -> ResponseCache | None:
    return _current


def enabled() -> bool:
    return _current is not None and runtime.get().settings.response_cache


async def lookup(key: Hashable) -> Lookup | None:
    """What the cache says of the request ``key`` (the door's key, viewer
    class included); None when the cache is off."""
    cache = _current
    if cache is None or not runtime.get().settings.response_cache:
        return None
    return await cache.lookup(key)


@dataclass(slots=True)
class CatalogueWrite:
    changes: list[tuple[int, str]] = field(default_factory=list)

    def changed(self, product_id: int, change: str) -> None:
        self.changes.append((product_id, change))


@asynccontextmanager
async def catalogue_write() -> AsyncIterator[CatalogueWrite]:
    """Around one write to the catalogue, in the resolver, before the door
    acknowledges it: lease the version (SERVICE_UNAVAILABLE, nothing
    written, when the cache is on and the broker does not answer), write
    and commit, bump the version, then publish a ProductChanged per change
    recorded with :meth:`CatalogueWrite.changed`."""
    cache = _current
    token = None
    if cache is not None and runtime.get().settings.response_cache:
        token = await cache.lease()
    write = CatalogueWrite()
    try:
        yield write
    finally:
        version = await cache.bump(token) if cache is not None and token is not None else 0
    for product_id, change in write.changes:
        await live.signal(ProductChanged(product_id, change, version))


async def start(settings: Settings) -> ResponseCache:
    """This process's response cache (after ``resolvers.live.start``)."""
    global _current
    cache = ResponseCache(build_versions(settings.broadcast_url, prefix=settings.pubsub_prefix))
    cache.follow()
    _current = cache
    return cache


async def stop() -> None:
    global _current
    cache, _current = _current, None
    if cache is not None:
        await cache.close()
