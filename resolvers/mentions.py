"""Mentions: ``@displayName`` or ``<@id>`` in a room message.

- a message's content is parsed into its ``mentions`` (user ids, in the
  order they first appear, the author left out, at most
  ``MESSAGE_MAX_MENTIONS``): ``<@id>`` names an active user by id,
  ``@name`` one whose display name is exactly ``name`` (a display name with
  spaces is reached with ``<@id>``); trailing punctuation is ignored;
- only users who can see the room count: anyone signed in for a public
  room, members for a private one. Mentioning anyone else keeps nothing and
  sends them nothing;
- each mentioned user gets a :class:`MessageMentioned` event on their own
  channel, whether or not they joined the room. Its id is taken from the
  user's DM id space under the user's row lock (the lock a DM to or from
  them takes), and it is logged in ``message_changes`` (``user_low`` =
  ``user_high`` = the user), so it replays with ``after`` like a DM;
- an edit parses the mentions again and tells only the newly mentioned;
- a mention is logged after its message commits: a process killed in
  between has not answered the send, so the client retries it (same
  ``client_id``), and the retry tells whom the first did not
  (:func:`notify_missing`).
"""

from __future__ import annotations

import regex
from tortoise.expressions import Q

from core import runtime
from core.transactions import transaction
from models import Membership, Message, MessageChange, Room, User
from resolvers import live, locks
from resolvers.change_events import MENTIONED, MessageMentioned
from resolvers.events import user_channel
from resolvers.live import sources
from resolvers.sequences import next_seq

MENTION = regex.compile(r"<@(\d{1,10})>|(?<![\w@])@([^\s@<>]{1,100})")
TRAILING = ".,;:!?)]}'\""


def stored(message: Message) -> list[int]:
    return [int(i) for i in message.mentions.split(",") if i]


async def parse(content: str, room: Room, author_id: int) -> list[int]:
    """The users ``content`` mentions who can see ``room``, in order."""
    tokens: list[int | str] = []
    for match in MENTION.finditer(content):
        if match.group(1):
            tokens.append(int(match.group(1)))
        else:
            name = match.group(2).rstrip(TRAILING)
            if name:
                tokens.append(name)
    if not tokens:
        return []
    ids = [t for t in tokens if isinstance(t, int) and t <= 2**31 - 1]
    names = [t for t in tokens if isinstance(t, str)]
    found = await User.filter(Q(id__in=ids) | Q(display_name__in=names), is_active=True).only(
        "id", "display_name"
    )
    by_id = {u.id: u.id for u in found}
    by_name: dict[str, int] = {}
    for user in sorted(found, key=lambda u: u.id):
        by_name.setdefault(user.display_name, user.id)
    result: list[int] = []
    for token in tokens:
        uid = by_id.get(token) if isinstance(token, int) else by_name.get(token)
        if uid is not None and uid != author_id and uid not in result:
            result.append(uid)
    if room.is_private and result:
        members = await Membership.filter(room_id=room.id, user_id__in=result).values_list(
            "user_id", flat=True
        )
        allowed = {int(str(m)) for m in members}
        result = [uid for uid in result if uid in allowed]
    return result[: runtime.get().settings.message_max_mentions]


def joined(ids: list[int]) -> str:
    return ",".join(str(i) for i in ids)


async def notify_missing(message: Message) -> None:
    """Tell the users ``message`` (its room loaded) mentions but who have no
    mention of it logged: what a send killed after its commit left undone."""
    wanted = stored(message)
    if not wanted or not isinstance(message.room, Room):
        return
    told = await MessageChange.filter(
        message_id=message.id, kind=MENTIONED, user_low__in=wanted
    ).values_list("user_low", flat=True)
    missing = [uid for uid in wanted if uid not in {int(str(t)) for t in told}]
    if missing:
        await notify(message, message.room, missing)


async def notify(message: Message, room: Room, user_ids: list[int]) -> None:
    """Tell each of ``user_ids`` on their own channel (after the message committed)."""
    author_id = message.author_id
    for uid in user_ids:
        channel = user_channel(uid)
        async with locks.locked([channel]):
            async with transaction() as conn:
                await User.filter(id=uid).select_for_update().only("id").using_db(conn)
                seq = await next_seq(conn, "direct_messages")
                await MessageChange.create(
                    seq=seq,
                    user_low=uid,
                    user_high=uid,
                    message_id=message.id,
                    kind=MENTIONED,
                    actor_id=author_id,
                    using_db=conn,
                )
                prev = await sources.prev_dm_id(uid, seq, conn)
            message.room = room
            event = MessageMentioned.from_row(seq, uid, message)
            await live.publish(event, {channel: prev})
