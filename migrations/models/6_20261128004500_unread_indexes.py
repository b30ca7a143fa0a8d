"""Indexes of unread counts (issue 15).

``messages_room_unread``: ``(room_id, id)`` carrying ``author_id``,
``deleted`` and ``mentions``, so counting a room's unread messages and
mentions after the marker (``resolvers.read_markers``) reads the index
only, not one table row per unread message (SQLite: as trailing columns;
PostgreSQL: ``INCLUDE``, used by an index-only scan where the visibility
map allows). ``messages_room_id_id`` stays: history pages by it.

``dms_recipient_sender``: a user's received DMs by sender, so the DM half
of unread counts reads that user's DMs instead of every DM of everyone.

Both dialects in one file, as ``2_...``. Numbered after ``5_...`` (last
seen); it does not depend on it.
"""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

SQLITE = """
CREATE INDEX IF NOT EXISTS "messages_room_unread"
    ON "messages" ("room_id", "id", "author_id", "deleted", "mentions");
"""

POSTGRES = """
CREATE INDEX IF NOT EXISTS "messages_room_unread"
    ON "messages" ("room_id", "id") INCLUDE ("author_id", "deleted", "mentions");
"""

COMMON = """
CREATE INDEX IF NOT EXISTS "dms_recipient_sender"
    ON "direct_messages" ("recipient_id", "sender_id", "id");
"""


async def upgrade(db: BaseDBAsyncClient) -> str:
    return (POSTGRES if db.capabilities.dialect == "postgres" else SQLITE) + COMMON


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP INDEX IF EXISTS "dms_recipient_sender";
        DROP INDEX IF EXISTS "messages_room_unread";"""
