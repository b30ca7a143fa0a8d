"""Messages that change: edits, tombstones, reactions and the change log (issue 14).

``messages`` and ``direct_messages`` gain ``edited_at``, ``deleted`` and
``reply_to_id`` (a message of the same conversation); ``messages`` gains
``mentions`` (the mentioned user ids, comma-separated).
``message_changes`` is each conversation's change log: a change's ``seq``
comes from the id sequence of its conversation's messages, so a live
channel orders messages and changes together (``resolvers.message_changes``).
``reactions`` holds one row per user, reaction and message; ``attachments``
links a message to its sender's files (cascading with the file).

Both dialects in one file, as the initial migration. Numbered after
``1_..._unique_name_keys`` (branch datasec); it does not depend on it.
"""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

COMMON = """
CREATE INDEX IF NOT EXISTS "attachments_message" ON "attachments" ("message_id", "position");
CREATE INDEX IF NOT EXISTS "attachments_dm" ON "attachments" ("dm_id", "position");
CREATE INDEX IF NOT EXISTS "attachments_file" ON "attachments" ("file_id");
CREATE INDEX IF NOT EXISTS "changes_room_seq" ON "message_changes" ("room_id", "seq");
CREATE INDEX IF NOT EXISTS "changes_low_seq" ON "message_changes" ("user_low", "seq");
CREATE INDEX IF NOT EXISTS "changes_high_seq" ON "message_changes" ("user_high", "seq");
"""

SQLITE = """
ALTER TABLE "messages" ADD "edited_at" TIMESTAMP;
ALTER TABLE "messages" ADD "reply_to_id" INT;
ALTER TABLE "direct_messages" ADD "reply_to_id" INT;
ALTER TABLE "messages" ADD "mentions" VARCHAR(1024) NOT NULL DEFAULT '';
ALTER TABLE "messages" ADD "deleted" INT NOT NULL DEFAULT 0;
ALTER TABLE "direct_messages" ADD "edited_at" TIMESTAMP;
ALTER TABLE "direct_messages" ADD "deleted" INT NOT NULL DEFAULT 0;
CREATE TABLE IF NOT EXISTS "message_changes" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "seq" INT NOT NULL,
    "room_id" INT,
    "user_low" INT,
    "user_high" INT,
    "message_id" INT NOT NULL,
    "kind" VARCHAR(16) NOT NULL,
    "actor_id" INT NOT NULL,
    "reaction" VARCHAR(64),
    "created_at" TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS "attachments" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "message_id" INT,
    "dm_id" INT,
    "position" INT NOT NULL,
    "file_id" INT NOT NULL REFERENCES "files" ("id") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS "reactions" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "message_id" INT,
    "dm_id" INT,
    "user_id" INT NOT NULL,
    "reaction" VARCHAR(64) NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    CONSTRAINT "uid_reactions_message_user" UNIQUE ("message_id", "user_id", "reaction"),
    CONSTRAINT "uid_reactions_dm_user" UNIQUE ("dm_id", "user_id", "reaction")
);
"""

POSTGRES = """
ALTER TABLE "messages" ADD "edited_at" TIMESTAMPTZ;
ALTER TABLE "messages" ADD "reply_to_id" INT;
ALTER TABLE "direct_messages" ADD "reply_to_id" INT;
ALTER TABLE "messages" ADD "mentions" VARCHAR(1024) NOT NULL DEFAULT '';
ALTER TABLE "messages" ADD "deleted" BOOL NOT NULL DEFAULT False;
ALTER TABLE "direct_messages" ADD "edited_at" TIMESTAMPTZ;
ALTER TABLE "direct_messages" ADD "deleted" BOOL NOT NULL DEFAULT False;
CREATE TABLE IF NOT EXISTS "message_changes" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "seq" INT NOT NULL,
    "room_id" INT,
    "user_low" INT,
    "user_high" INT,
    "message_id" INT NOT NULL,
    "kind" VARCHAR(16) NOT NULL,
    "actor_id" INT NOT NULL,
    "reaction" VARCHAR(64),
    "created_at" TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS "attachments" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "message_id" INT,
    "dm_id" INT,
    "position" INT NOT NULL,
    "file_id" INT NOT NULL REFERENCES "files" ("id") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS "reactions" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "message_id" INT,
    "dm_id" INT,
    "user_id" INT NOT NULL,
    "reaction" VARCHAR(64) NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    CONSTRAINT "uid_reactions_message_user" UNIQUE ("message_id", "user_id", "reaction"),
    CONSTRAINT "uid_reactions_dm_user" UNIQUE ("dm_id", "user_id", "reaction")
);
"""


async def upgrade(db: BaseDBAsyncClient) -> str:
    return (POSTGRES if db.capabilities.dialect == "postgres" else SQLITE) + COMMON


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "reactions";
        DROP TABLE IF EXISTS "attachments";
        DROP TABLE IF EXISTS "message_changes";
        ALTER TABLE "messages" DROP COLUMN "edited_at";
        ALTER TABLE "messages" DROP COLUMN "reply_to_id";
        ALTER TABLE "direct_messages" DROP COLUMN "reply_to_id";
        ALTER TABLE "messages" DROP COLUMN "mentions";
        ALTER TABLE "messages" DROP COLUMN "deleted";
        ALTER TABLE "direct_messages" DROP COLUMN "edited_at";
        ALTER TABLE "direct_messages" DROP COLUMN "deleted";"""
