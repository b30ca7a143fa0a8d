"""The initial schema: users and sessions, products, chat, files, resources.

aerich writes SQL for one dialect; this migration carries both so that the
same history applies to SQLite (the embedded default) and PostgreSQL.
"""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

SQLITE = """
CREATE TABLE IF NOT EXISTS "products" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "name" VARCHAR(200) NOT NULL,
    "description" TEXT NOT NULL,
    "price" VARCHAR(40) NOT NULL,
    "stock" INT NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "updated_at" TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS "users" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "email" VARCHAR(254) NOT NULL UNIQUE,
    "password_hash" VARCHAR(128) NOT NULL,
    "display_name" VARCHAR(100) NOT NULL,
    "role" VARCHAR(16) NOT NULL /* ADMIN: ADMIN\nMEMBER: MEMBER */,
    "is_active" INT NOT NULL,
    "created_at" TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS "auth_sessions" (
    "id" CHAR(36) NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMP NOT NULL,
    "revoked_at" TIMESTAMP,
    "user_id" INT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE
) /* One login: the family every rotated refresh token belongs to. */;
CREATE TABLE IF NOT EXISTS "direct_messages" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "user_low" INT NOT NULL,
    "user_high" INT NOT NULL,
    "content" TEXT NOT NULL,
    "client_id" VARCHAR(64),
    "created_at" TIMESTAMP NOT NULL,
    "recipient_id" INT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    "sender_id" INT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_direct_mess_sender__6740a1" UNIQUE ("sender_id", "client_id")
);
CREATE INDEX IF NOT EXISTS "dms_pair_id" ON "direct_messages" ("user_low", "user_high", "id");
CREATE TABLE IF NOT EXISTS "refresh_tokens" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "token_hash" VARCHAR(64) NOT NULL UNIQUE,
    "created_at" TIMESTAMP NOT NULL,
    "expires_at" TIMESTAMP NOT NULL,
    "used_at" TIMESTAMP,
    "session_id" CHAR(36) NOT NULL REFERENCES "auth_sessions" ("id") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS "rooms" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "name" VARCHAR(64) NOT NULL UNIQUE,
    "is_private" INT NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "created_by_id" INT REFERENCES "users" ("id") ON DELETE SET NULL
);
CREATE TABLE IF NOT EXISTS "memberships" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "room_id" INT NOT NULL REFERENCES "rooms" ("id") ON DELETE CASCADE,
    "user_id" INT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_memberships_room_id_a563e5" UNIQUE ("room_id", "user_id")
);
CREATE TABLE IF NOT EXISTS "messages" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "content" TEXT NOT NULL,
    "client_id" VARCHAR(64),
    "created_at" TIMESTAMP NOT NULL,
    "author_id" INT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    "room_id" INT NOT NULL REFERENCES "rooms" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_messages_author__dac8d3" UNIQUE ("author_id", "client_id")
);
CREATE INDEX IF NOT EXISTS "messages_room_id_id" ON "messages" ("room_id", "id");
CREATE TABLE IF NOT EXISTS "files" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "filename" VARCHAR(255) NOT NULL,
    "content_type" VARCHAR(255) NOT NULL,
    "size" BIGINT NOT NULL,
    "sha256" VARCHAR(64) NOT NULL,
    "storage_key" VARCHAR(128) NOT NULL UNIQUE,
    "created_at" TIMESTAMP NOT NULL,
    "owner_id" INT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "files_owner_id_id" ON "files" ("owner_id", "id");
CREATE TABLE IF NOT EXISTS "resources" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "title" VARCHAR(200) NOT NULL,
    "description" TEXT NOT NULL,
    "kind" VARCHAR(16) NOT NULL /* DOCUMENT: DOCUMENT\nTUTORIAL: TUTORIAL\nLINK: LINK\nVIDEO: VIDEO\nOTHER: OTHER */,
    "url" VARCHAR(2048),
    "created_at" TIMESTAMP NOT NULL,
    "created_by_id" INT REFERENCES "users" ("id") ON DELETE SET NULL,
    "file_id" INT REFERENCES "files" ("id") ON DELETE SET NULL
);
CREATE INDEX IF NOT EXISTS "resources_kind_id" ON "resources" ("kind", "id");
CREATE TABLE IF NOT EXISTS "aerich" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "version" VARCHAR(255) NOT NULL,
    "app" VARCHAR(100) NOT NULL,
    "content" JSON NOT NULL
);
"""

POSTGRES = """
CREATE TABLE IF NOT EXISTS "products" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "name" VARCHAR(200) NOT NULL,
    "description" TEXT NOT NULL,
    "price" DECIMAL(12,2) NOT NULL,
    "stock" INT NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS "users" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "email" VARCHAR(254) NOT NULL UNIQUE,
    "password_hash" VARCHAR(128) NOT NULL,
    "display_name" VARCHAR(100) NOT NULL,
    "role" VARCHAR(16) NOT NULL,
    "is_active" BOOL NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL
);
COMMENT ON COLUMN "users"."role" IS 'ADMIN: ADMIN\nMEMBER: MEMBER';
CREATE TABLE IF NOT EXISTS "auth_sessions" (
    "id" UUID NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "revoked_at" TIMESTAMPTZ,
    "user_id" INT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE
);
COMMENT ON TABLE "auth_sessions" IS 'One login: the family every rotated refresh token belongs to.';
CREATE TABLE IF NOT EXISTS "direct_messages" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "user_low" INT NOT NULL,
    "user_high" INT NOT NULL,
    "content" TEXT NOT NULL,
    "client_id" VARCHAR(64),
    "created_at" TIMESTAMPTZ NOT NULL,
    "recipient_id" INT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    "sender_id" INT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_direct_mess_sender__6740a1" UNIQUE ("sender_id", "client_id")
);
CREATE INDEX IF NOT EXISTS "dms_pair_id" ON "direct_messages" ("user_low", "user_high", "id");
CREATE TABLE IF NOT EXISTS "refresh_tokens" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "token_hash" VARCHAR(64) NOT NULL UNIQUE,
    "created_at" TIMESTAMPTZ NOT NULL,
    "expires_at" TIMESTAMPTZ NOT NULL,
    "used_at" TIMESTAMPTZ,
    "session_id" UUID NOT NULL REFERENCES "auth_sessions" ("id") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS "rooms" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "name" VARCHAR(64) NOT NULL UNIQUE,
    "is_private" BOOL NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "created_by_id" INT REFERENCES "users" ("id") ON DELETE SET NULL
);
CREATE TABLE IF NOT EXISTS "memberships" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "room_id" INT NOT NULL REFERENCES "rooms" ("id") ON DELETE CASCADE,
    "user_id" INT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_memberships_room_id_a563e5" UNIQUE ("room_id", "user_id")
);
CREATE TABLE IF NOT EXISTS "messages" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "content" TEXT NOT NULL,
    "client_id" VARCHAR(64),
    "created_at" TIMESTAMPTZ NOT NULL,
    "author_id" INT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    "room_id" INT NOT NULL REFERENCES "rooms" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_messages_author__dac8d3" UNIQUE ("author_id", "client_id")
);
CREATE INDEX IF NOT EXISTS "messages_room_id_id" ON "messages" ("room_id", "id");
CREATE TABLE IF NOT EXISTS "files" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "filename" VARCHAR(255) NOT NULL,
    "content_type" VARCHAR(255) NOT NULL,
    "size" BIGINT NOT NULL,
    "sha256" VARCHAR(64) NOT NULL,
    "storage_key" VARCHAR(128) NOT NULL UNIQUE,
    "created_at" TIMESTAMPTZ NOT NULL,
    "owner_id" INT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "files_owner_id_id" ON "files" ("owner_id", "id");
CREATE TABLE IF NOT EXISTS "resources" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "title" VARCHAR(200) NOT NULL,
    "description" TEXT NOT NULL,
    "kind" VARCHAR(16) NOT NULL,
    "url" VARCHAR(2048),
    "created_at" TIMESTAMPTZ NOT NULL,
    "created_by_id" INT REFERENCES "users" ("id") ON DELETE SET NULL,
    "file_id" INT REFERENCES "files" ("id") ON DELETE SET NULL
);
CREATE INDEX IF NOT EXISTS "resources_kind_id" ON "resources" ("kind", "id");
COMMENT ON COLUMN "resources"."kind" IS 'DOCUMENT: DOCUMENT\nTUTORIAL: TUTORIAL\nLINK: LINK\nVIDEO: VIDEO\nOTHER: OTHER';
CREATE TABLE IF NOT EXISTS "aerich" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "version" VARCHAR(255) NOT NULL,
    "app" VARCHAR(100) NOT NULL,
    "content" JSONB NOT NULL
);
"""


async def upgrade(db: BaseDBAsyncClient) -> str:
    return POSTGRES if db.capabilities.dialect == "postgres" else SQLITE


async def downgrade(db: BaseDBAsyncClient) -> str:
    return ""


MODELS_STATE = (
    "eJztXWtz4jgW/Ssuf+quyqYSQh7LTG0VCfQ02wGmEjI7NZMpt2MroIotM5ZJmu3Nf19Jtv"
    "yUjU0wAbe+BJB0ZflcPe65V1K+q7ZjAgsfdhfe7BZgDB2kdpTvKtJtQL6Isg8UVZ/Po0ya"
    "4OkPFiuvk4Ia9kuyHP0Be65ueCTzUbcwIEkmwIYL557/LHWMgGI5U4g6ijcDpJQNraUCno"
    "G7VFzH0z1gKi54dAGeKZ7zBJDyACwHTTH5dUgfYToGeQZE0zfXdo/uUdcwSPP9PKwYuksE"
    "aU3BSynQVD58/Yqh+fXrx59IVc/OE3l0vMg9guhZt6BJHoZphq3oyORtSDzbeYy1kr3MAs"
    "G/F0DznCkgOS55pT//IskQmeAbwPzn/El7hMAyE7qCJq2ApWvecs7S7u4GvU+sJAXqQTMc"
    "a2GjqPR86c0cFBZfLKB5SGVo3hQg4FLAYrpDC8sKdM2T/BaTBM9dgLCpZpRggkd9YdEeoP"
    "78uEAGVbzCnkT/tP8VNC1WTNNG44l2259omprpMLQJKa0HSQbpc6SzQeRRoL6/+vVGgLBU"
    "lT7g6nP35sPJ2UcGgYO9qcsyGVzqKxPUPd0XZaBHKBsuoJhoupdFu0dyPGgDMeJJyRTyZi"
    "B6yL+sowGeEKkgGnMcXA5fDYCr5AXNMbKWge4LFDAZDPu3k+7wV/o4G+O/LYZfd9KnOS2W"
    "ukylfvD15ZDpxJ9swkqU/wwmnxX6U/ljPOqntRqWm/yh0jaRScrRkPOi6Wasm/JUjhopGW"
    "mdjfO1tJ6U3IDWg+buitL3RMkck0ItLzBwNdE0OkCeWLsxiZRqCT77OISntBH/aB23z9sX"
    "J2ftC1KENTRMOS9Q+GA0IbMnXaAen4STJ4Uri+4nxwVwir6AJQN5QFqkIwMIQA3Mkbugmj"
    "0D95X3Hp4ajWZXfwlX9HinIu9O3hh47O2vurdX3V5fZQg/6MbTi+6aWg7UgaGh+YZMFvTL"
    "QP7Tlxtg6V5g2YnxvvHrmtCqGoQ7w9FpOTH8Eshms+yWnU7RkT5lr0SfTZ8UYNaDLjC8IT"
    "EJdTamMjZ1skChVW2yoprtly1nV+ejIzAx/1QxILphg8qwIEAe7X9/pSzP72r07n4ntchE"
    "ehB02BmczugPKkg+wLe5y3lAgBUHwLSxNtch7+O8s6lMirwV+/Fayc7NnaDLzs3BOHybfb"
    "vjE3ORWRtXZ5W1LxCRi1+IcQpTPiyqgMplJKoCVEn1HkACO3xCJo8c5hWJpCAlDd1DSIts"
    "7v7vk4S5Pfqte8Po7rD7+8eEyX09Hv3Ci0f29ujqenyZhjxcEjKgX810Nwf0uNBasO8Y0y"
    "Fr/TfNAmjqzcjPs3aBFjjmZ+0Um+HaaLGsFMrSs/BDehYMOM8dXrnrRFpMLhWCpcI3aqsB"
    "m5CRqK7m9BFzkKy+iNUnOpaY1wvnBYnsKmTTc2FVp0mdboAhsB+Ai2dwrgp8ALHcgyIHgB"
    "2Wq4X8u45jcx6fYf2Sh2+Th0sj8Ic0AskArGj/RRLSSMnzvchQTn1mH18z3mia3ATV7Bm4"
    "pU2TaJiuNvlkdKzm6Fi9hl5upKdUjKfO4A7dleVUCe7Euu3qcA5vuRZIybDODpmT0lkune"
    "XSWS55UjN4kr+QVbPrEzLSshdwJck+JVfaAcO+EleKTFrJlopATcx+u8SXfnUdc8EoToYv"
    "8ayDIr409wvVwJek//sdCQv7rGA48/KNoCpJo7l1dFTCaialcs1mlpdc6+Mty8CcTwpTYt"
    "tDW1XrnUC3RgvnLjQEPbsHDGjrlhj1UCbNUnyhw0B4D3t6Afq9/tVg2L3+cNw6aDGwCdTQ"
    "X7K4GtqZbo09x3iqMB2H5bdnvh7t9IwsmfWPzawXc3NNrSclpdZ3Resco5jaw0MvGSt/+/"
    "Z/4kyRgASkzxzlM4HsSSfJBxrDB5hStZmOBYco8llBUmoz1ur7wizd6XL63/iiD77NIalt"
    "Da0nJRuo9T3RsmCRF9h2eD3DDstrC/ZCv8G9M8IQTv4FMEmpTV4Es7uqXXHvS+Eph/D2oz"
    "cGHFJ3Ke0nuCVOO8R71y4FHm4AdhauAVQh6QjyDooJh1+qfq6R2JT1RDLoE1fvyAobqFEZ"
    "uR9rh+gM9KxK8Y1QQAY4ZIBjpwMcfHrK9uw+WtiZxTGBPpfdIuy98dXdsD+aVIQ/lOso/N"
    "s9mtxNxjeD7nVH4d/u0fVg9KWj0L/36LdBrz/uKOzjHo0nn/s3HYV9qGsMm+OzEqPmOG2Q"
    "RoOGZqUOS7hWlTkpKN68bYqto/ZFqRmpfVEwJdFM6V2R3hWuu4dltc11Gbm1YpS7NtA2HK"
    "V8hBaoBmtMQgK6cssiRWsDZPfWIxLmp6Cy/UK4LNWNdawEzyXPV0Z319dqzqywAXhLbl7c"
    "U2AzE2EOvO/kR6C7cUU+hGCXboH/gJSQccpmEfv33bfY6NgkxNrchc8EjizAl45jAR3l9N"
    "2EYArpByJZl70cpmyX1l+Ox9cJ2/hykObtd8PLPiGHqX11chOYZCzCBVcyltoMbGkHbtEO"
    "jBlpyZuUUqtJhTuxk1c37dkclod8YjaI30jwFpzCyw+aAlKdrCJGmAXcIkmn8xkGpaRbjk"
    "46Lyi8l2N1hJI1UOMyMkK5O0SGaqYqmYnLNDFOeXpaJipwepofFKB5wmusfaAqYJ2Wk3iX"
    "wxvD/4r4I5zmnxEKJJp0wv2frdbJyXnr6OTs4rR9fn56cRTOH9msoonkcvDLYJRil4ILeG"
    "d66/SsSveOJBrYsTfvG8HEICCGhPYEBDSiAOWkWOOcUMetMnFcUio/SN6SUVzpEyFVxO3a"
    "kqZmXKRJi0ddrhCG1/a8ILuGblk3SLxbveX/gsU2r65P6+M7ZZvhdaqV1rOuKSD0vMvmU3"
    "l63aUMFjaLYwNbh5V23IUCjbPUWqdlbGJSqoDrZaziuY7xi0PGbNVzoxnBBpKQWmxjE+K5"
    "pS+1qp6jtFwT8S61y/24YJf7cXaXu+vkHSNYvdmay25xs/WwT+POajW81W5vOBh1FPZxj/"
    "w6OkqsrnffOA2xRlZk+LzGzoRIbosbE/g8L/clSA6+4xw8wxfLkBvMw03Z4ViB2zTzhGZy"
    "vbax5gIDkClIYOBXASvzb4ybChcW3qMuocrsGpAbLOQGi82BFJ1lDlZw6bcqQotuLd8QUu"
    "Vum95HlMLtMeujU+lgy94MvDpdoF3gQmOmCpygQc5BkRtUj8pIP+i2+kndftBnsr4Lz+nn"
    "O4xiIg30FdWy84UOqgoIB8UbiG4tnrjc/7D079vxqHALl8gPAQ1P+Z9iQbyPYeICcCkYCW"
    "dD5saJ9OUSB0kvAq3gUhRG3ubhv9f/A7o8SB0="
)
