"""Attachments: a message carries up to ``MESSAGE_MAX_ATTACHMENTS`` of its
sender's uploaded files.

- each id names a file the sender owns (anything else is NOT_FOUND, as for
  a file that does not exist); the same file twice is kept once;
- whoever may read the message may download its files, and nobody else:
  :func:`readable_through_messages` is the only widening of
  ``resolvers.files``' rule, and it asks, for the room or DM, exactly what
  reading its history asks (public room, member of a private one, party to
  the DM); a deleted message links nothing;
- deleting the message drops its attachments (the files stay their
  owner's); deleting a file drops it from every message (the foreign key
  cascades), on every door;
- history reads a page's attachments in one query (:func:`of_messages`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tortoise.expressions import Q

from core import runtime
from core.errors import BadUserInput, NotFound
from models import Attachment, DirectMessage, Membership, Message, Room, StoredFile, User
from resolvers import validation

FILE_NOT_FOUND = "File not found."


@dataclass(frozen=True, slots=True)
class AttachedFile:
    id: int
    filename: str
    content_type: str
    size: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "filename": self.filename,
            "content_type": self.content_type,
            "size": self.size,
        }


def _of(row: StoredFile) -> AttachedFile:
    return AttachedFile(row.id, row.filename, row.content_type, int(row.size))


async def check(value: object, user: User) -> list[StoredFile]:
    """The sender's files named by ``value`` (a list of ids), in order."""
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise BadUserInput("attachments must be a list of file ids.", field="attachments")
    limit = runtime.get().settings.message_max_attachments
    ids: list[int] = []
    for item in value:
        file_id = validation.parse_id(item, "attachments")
        if file_id not in ids:
            ids.append(file_id)
    if len(ids) > limit:
        raise BadUserInput(f"A message carries at most {limit} attachments.", field="attachments")
    if not ids:
        return []
    rows = {f.id: f for f in await StoredFile.filter(id__in=ids, owner_id=user.id)}
    if len(rows) != len(ids):
        raise NotFound(FILE_NOT_FOUND)
    return [rows[i] for i in ids]


async def link(files: list[StoredFile], *, conn: Any, message_id: int, dm: bool) -> None:
    key = "dm_id" if dm else "message_id"
    for position, row in enumerate(files):
        await Attachment.create(
            **{key: message_id}, file_id=row.id, position=position, using_db=conn
        )


def files_of(files: list[StoredFile]) -> tuple[AttachedFile, ...]:
    return tuple(_of(f) for f in files)


async def of_messages(
    ids: Iterable[int], *, dm: bool = False
) -> dict[int, tuple[AttachedFile, ...]]:
    """Attachments of messages (or DMs) by id, in one query."""
    key = "dm_id" if dm else "message_id"
    wanted = list(ids)
    result: dict[int, list[AttachedFile]] = {i: [] for i in wanted}
    if wanted:
        rows = (
            await Attachment.filter(**{f"{key}__in": wanted})
            .select_related("file")
            .order_by(key, "position")
        )
        for row in rows:
            result[int(getattr(row, key))].append(_of(row.file))
    return {k: tuple(v) for k, v in result.items()}


async def unlink(*, conn: Any, message_id: int, dm: bool) -> None:
    key = "dm_id" if dm else "message_id"
    await Attachment.filter(**{key: message_id}).using_db(conn).delete()


async def readable_through_messages(user: User, file_id: int) -> bool:
    """Whether ``user`` may read a message that carries the file."""
    links = await Attachment.filter(file_id=file_id).values_list("message_id", "dm_id")
    message_ids = [m for m, _ in links if m is not None]
    dm_ids = [d for _, d in links if d is not None]
    if dm_ids:
        mine = Q(sender_id=user.id) | Q(recipient_id=user.id)
        if await DirectMessage.filter(mine, id__in=dm_ids, deleted=False).exists():
            return True
    if message_ids:
        room_ids = await Message.filter(id__in=message_ids, deleted=False).values_list(
            "room_id", flat=True
        )
        rooms = {int(str(r)) for r in room_ids}
        if rooms and await Room.filter(id__in=rooms, is_private=False).exists():
            return True
        if rooms and await Membership.filter(room_id__in=rooms, user_id=user.id).exists():
            return True
    return False
