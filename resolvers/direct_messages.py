"""Direct messages: send one, read a conversation, its key.

A direct message is visible to its two parties only. A conversation is keyed
by its pair of user ids, the smaller first (``user_low``, ``user_high``),
whoever sent each message (:func:`conversation`). Content, ``client_id``
replay and the message budget are :mod:`resolvers.sending`.

A send is stored, then published (:class:`resolvers.events.DirectMessageSent`)
on both parties' channels with each channel's previous id read in the same
transaction, under both parties' row locks and, within one process, both
user channels' locks (:mod:`resolvers.locks`), as a room message is
(:mod:`resolvers.messages`).
"""

from __future__ import annotations

from functools import partial

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from core.errors import BadUserInput
from core.transactions import transaction
from models import DirectMessage, User
from resolvers import attachments as attached
from resolvers import events, live, replies, validation
from resolvers.events import user_channel
from resolvers.live import sources
from resolvers.locks import locked
from resolvers.pagination import Page, history_page
from resolvers.sending import check_client_id, check_content, check_rate, stored_send
from resolvers.users import active_user, require_user


def conversation(user_id: int, other_id: int) -> Q:
    """The rows of the conversation between two users (its canonical key)."""
    low, high = sorted((user_id, other_id))
    return Q(user_low=low, user_high=high)


async def send_direct_message(
    *,
    actor: User | None,
    to: object,
    content: object,
    client_id: object = None,
    reply_to: object = None,
    attachments: object = None,
) -> DirectMessage:
    """Store a DM, then publish it on both parties' channels (idempotent by
    ``client_id``, like :func:`resolvers.messages.send_message`)."""
    user = require_user(actor)
    target_id = validation.parse_id(to, "to")
    if target_id == user.id:
        raise BadUserInput("You cannot send a direct message to yourself.", field="to")
    text = check_content(content)
    key = check_client_id(client_id)
    recipient = await active_user(target_id, "to")

    async def retried() -> DirectMessage | None:
        return await stored_send(
            key, partial(_stored_dm, user), lambda d: d.recipient_id == recipient.id, text
        )

    if (stored := await retried()) is not None:
        return stored
    low, high = sorted((user.id, recipient.id))
    original = await replies.check_dm_reply(reply_to, low, high)
    files = await attached.check(attachments, user)
    await check_rate(user)
    channels = [user_channel(user.id), user_channel(recipient.id)]
    async with locked(channels):
        try:
            async with transaction() as conn:
                # Both parties' rows, in id order: every DM of a user gets its
                # id in commit order, whichever process stores it.
                await (
                    User.filter(id__in=[low, high])
                    .order_by("id")
                    .select_for_update()
                    .only("id")
                    .using_db(conn)
                )
                dm = await DirectMessage.create(
                    sender=user,
                    recipient=recipient,
                    user_low=low,
                    user_high=high,
                    content=text,
                    client_id=key,
                    reply_to_id=original.id if original else None,
                    using_db=conn,
                )
                await attached.link(files, conn=conn, message_id=dm.id, dm=True)
                prevs = {
                    user_channel(party): await sources.prev_dm_id(party, dm.id, conn)
                    for party in (low, high)
                }
        except IntegrityError:
            if (stored := await retried()) is None:
                raise
            return stored
        reply = replies.preview_of(original) if original else None
        event = events.DirectMessageSent.from_row(dm, reply, attached.files_of(files))
        await live.publish(event, prevs)
    return dm


async def _stored_dm(user: User, client_id: str) -> DirectMessage | None:
    return await DirectMessage.get_or_none(sender_id=user.id, client_id=client_id)


async def direct_messages(
    *,
    actor: User | None,
    with_user: object,
    first: int | None = None,
    after: int | None = None,
    last: int | None = None,
    before: int | None = None,
) -> Page[DirectMessage]:
    """A page of the conversation between the actor and ``with_user``
    (:func:`resolvers.pagination.history_page`)."""
    user = require_user(actor)
    other = await active_user(with_user, "withUser")
    return await history_page(
        DirectMessage.filter(conversation(user.id, other.id)),
        first=first,
        after=after,
        last=last,
        before=before,
    )
