"""Chat on GraphQL: rooms (``schema.rooms``) and messages
(``schema.messages``, their types in ``schema.message_types``), merged into
the pieces the root types take.

Subscriptions (graphql-transport-ws; ``context.user`` is set by
``connection_init``) check access first, then listen to the live module's
feed of the channel (``schema.feeds``) and render each event as a GraphQL
type.
"""

from __future__ import annotations

import strawberry

from schema.messages import MessageMutations, MessageQueries, MessageSubscriptions
from schema.rooms import RoomMutations, RoomQueries


@strawberry.type
class ChatQueries(RoomQueries, MessageQueries):
    pass


@strawberry.type
class ChatMutations(RoomMutations, MessageMutations):
    pass


@strawberry.type
class ChatSubscriptions(MessageSubscriptions):
    pass
