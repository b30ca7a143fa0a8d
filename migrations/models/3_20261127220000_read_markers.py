"""Read markers (issue 15): per user, per room or DM conversation, the last id read.

``seq`` is the marker's last move in the user's live channel (the DM id
sequence, ``resolvers.read_markers``); sync reads markers after a ``seq``
(``read_markers_user_seq``). ``memberships_user_room`` lets unread counts
and sync start from a user's rooms instead of every room. Both dialects in one file, as ``2_...``.
"""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

COMMON = """
CREATE INDEX IF NOT EXISTS "read_markers_user_seq" ON "read_markers" ("user_id", "seq");
CREATE INDEX IF NOT EXISTS "memberships_user_room" ON "memberships" ("user_id", "room_id");
"""

SQLITE = """
CREATE TABLE IF NOT EXISTS "read_markers" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "user_id" INT NOT NULL,
    "room_id" INT,
    "other_id" INT,
    "last_read_id" INT NOT NULL,
    "seq" INT NOT NULL,
    "updated_at" TIMESTAMP NOT NULL,
    CONSTRAINT "uid_read_marker_user_room" UNIQUE ("user_id", "room_id"),
    CONSTRAINT "uid_read_marker_user_other" UNIQUE ("user_id", "other_id")
);
"""

POSTGRES = """
CREATE TABLE IF NOT EXISTS "read_markers" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "user_id" INT NOT NULL,
    "room_id" INT,
    "other_id" INT,
    "last_read_id" INT NOT NULL,
    "seq" INT NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    CONSTRAINT "uid_read_marker_user_room" UNIQUE ("user_id", "room_id"),
    CONSTRAINT "uid_read_marker_user_other" UNIQUE ("user_id", "other_id")
);
"""


async def upgrade(db: BaseDBAsyncClient) -> str:
    return (POSTGRES if db.capabilities.dialect == "postgres" else SQLITE) + COMMON


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP INDEX IF EXISTS "memberships_user_room";
        DROP TABLE IF EXISTS "read_markers";"""
