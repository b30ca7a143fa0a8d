"""Each room's newest message id, kept by the database (issue 15).

``rooms.last_message_id`` is at least the id of the room's newest message:
a trigger raises it on every insert into ``messages``, whichever door or
script inserted it. Unread counts (``resolvers.read_markers``) compare it
with the reader's marker, so a room read to its end costs no probe of the
messages index: for a user in 500 rooms who keeps up, that probe was most of
the statement. It never goes down (a message deleted for good leaves it
high, which only costs that probe again), and inserts into one room take its
row lock in id order (``resolvers.messages``), so ``GREATEST``/``MAX`` is a
safeguard, not a need.

The column is the database's, not the ORM's: ``models.Room`` does not
declare it, and nothing writes it but the trigger.
"""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

BACKFILL = """
UPDATE "rooms" SET "last_message_id" = COALESCE(
    (SELECT MAX("id") FROM "messages" WHERE "messages"."room_id" = "rooms"."id"), 0);
"""

SQLITE = (
    """
ALTER TABLE "rooms" ADD COLUMN "last_message_id" INT NOT NULL DEFAULT 0;
"""
    + BACKFILL
    + """
CREATE TRIGGER IF NOT EXISTS "rooms_last_message" AFTER INSERT ON "messages" BEGIN
    UPDATE "rooms" SET "last_message_id" = NEW."id"
        WHERE "id" = NEW."room_id" AND "last_message_id" < NEW."id";
END;
"""
)

POSTGRES = (
    """
ALTER TABLE "rooms" ADD COLUMN IF NOT EXISTS "last_message_id" INT NOT NULL DEFAULT 0;
"""
    + BACKFILL
    + """
CREATE OR REPLACE FUNCTION "rooms_last_message"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE "rooms" SET "last_message_id" = NEW."id"
        WHERE "id" = NEW."room_id" AND "last_message_id" < NEW."id";
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS "rooms_last_message" ON "messages";
CREATE TRIGGER "rooms_last_message" AFTER INSERT ON "messages"
    FOR EACH ROW EXECUTE FUNCTION "rooms_last_message"();
"""
)


async def upgrade(db: BaseDBAsyncClient) -> str:
    return POSTGRES if db.capabilities.dialect == "postgres" else SQLITE


async def downgrade(db: BaseDBAsyncClient) -> str:
    if db.capabilities.dialect == "postgres":
        return """
            DROP TRIGGER IF EXISTS "rooms_last_message" ON "messages";
            DROP FUNCTION IF EXISTS "rooms_last_message"();
            ALTER TABLE "rooms" DROP COLUMN IF EXISTS "last_message_id";"""
    return """
        DROP TRIGGER IF EXISTS "rooms_last_message";
        ALTER TABLE "rooms" DROP COLUMN "last_message_id";"""
