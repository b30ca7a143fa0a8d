"""Typed events of the catalogue: a product was created, changed or deleted.

They travel on the one catalogue channel (``catalogue:0``: every live
channel is ``prefix:id``, and there is one catalogue), published by
``resolvers.products`` after commit, through :func:`resolvers.live.signal`
like the other signals (:mod:`resolvers.signal_events`): never stored, id
0, delivered to the listeners live on the channel now. What must hold
after a write does not rest on them: the catalogue's version does
(:mod:`resolvers.response_cache`), and they only let each process drop
what it cached under older versions at once. A lost one costs memory
until the least recently used entries leave, never a stale answer.

Adding a kind: a frozen dataclass with ``kind``, ``ephemeral = True``,
``id = 0`` and ``channels()`` returning :data:`CATALOGUE_CHANNEL`,
decorated with :func:`resolvers.events.register`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from resolvers.events import register

CATALOGUE_CHANNEL = "catalogue:0"

CREATED = "created"
UPDATED = "updated"
DELETED = "deleted"


@register
@dataclass(frozen=True, slots=True)
class ProductChanged:
    """Product ``product_id`` was ``change``d (created, updated: name,
    description, price or stock, deleted). ``version`` is the catalogue's
    version once the change was committed (0 when the response cache is
    off: no version was taken)."""

    kind: ClassVar[str] = "product_changed"
    ephemeral: ClassVar[bool] = True
    product_id: int
    change: str
    version: int
    id: int = 0

    def channels(self) -> tuple[str, ...]:
        return (CATALOGUE_CHANNEL,)
