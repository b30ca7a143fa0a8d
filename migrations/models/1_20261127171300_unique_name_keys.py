r"""Uniqueness keys for emails and room names (issue 11, finding 11).

Look-alike spellings (case, fullwidth forms, NFD, zero-width and bidi
characters) used to be accepted as new accounts and rooms. Each row now
carries the key of its name, unique: ``users.email_key``, ``rooms.name_key``.

The key is computed in Python (SQL has no NFKC), with a frozen copy of
``resolvers.names.unique_key`` as it was when this migration was written.
Existing rows whose keys collide keep their names; every row after the
first of a collision gets ``key + "\x1f" + id`` (a control character, which
no accepted name contains, so no new name can take it), and stays reachable
by its exact name and its id.

Both dialects in one file, as the initial migration.
"""

from __future__ import annotations

import unicodedata

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

ROOM_KEY_MAX = 256
EMAIL_KEY_MAX = 1024


def unique_key(value: str) -> str:
    visible = "".join(c for c in value if unicodedata.category(c) != "Cf")
    folded = unicodedata.normalize("NFKC", visible).casefold()
    return unicodedata.normalize("NFKC", folded)


async def _fill(db: BaseDBAsyncClient, table: str, source: str, column: str, size: int) -> None:
    postgres = db.capabilities.dialect == "postgres"
    update = (
        f'UPDATE "{table}" SET "{column}" = $1 WHERE "id" = $2'
        if postgres
        else f'UPDATE "{table}" SET "{column}" = ? WHERE "id" = ?'
    )
    _count, rows = await db.execute_query(f'SELECT "id", "{source}" FROM "{table}" ORDER BY "id"')
    taken: set[str] = set()
    for row in rows:
        row_id, value = row["id"], row[source]
        key = unique_key(value.strip() if table == "users" else value)
        if key in taken or len(key) > size or not key:
            suffix = f"\x1f{row_id}"
            key = key[: size - len(suffix)] + suffix
        taken.add(key)
        await db.execute_query(update, [key, row_id])


SQLITE_COLUMNS = """
ALTER TABLE "rooms" ADD "name_key" VARCHAR(256) NOT NULL DEFAULT '';
ALTER TABLE "users" ADD "email_key" VARCHAR(1024) NOT NULL DEFAULT '';
"""
POSTGRES_COLUMNS = """
ALTER TABLE "rooms" ADD "name_key" VARCHAR(256);
ALTER TABLE "users" ADD "email_key" VARCHAR(1024);
"""
POSTGRES_NOT_NULL = """
ALTER TABLE "rooms" ALTER COLUMN "name_key" SET NOT NULL;
ALTER TABLE "users" ALTER COLUMN "email_key" SET NOT NULL;
"""
INDEXES = """
CREATE UNIQUE INDEX "uid_rooms_name_ke_73da32" ON "rooms" ("name_key");
CREATE UNIQUE INDEX "uid_users_email_k_a1e778" ON "users" ("email_key");
"""


async def upgrade(db: BaseDBAsyncClient) -> str:
    postgres = db.capabilities.dialect == "postgres"
    await db.execute_script(POSTGRES_COLUMNS if postgres else SQLITE_COLUMNS)
    await _fill(db, "rooms", "name", "name_key", ROOM_KEY_MAX)
    await _fill(db, "users", "email", "email_key", EMAIL_KEY_MAX)
    return (POSTGRES_NOT_NULL if postgres else "") + INDEXES


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP INDEX IF EXISTS "uid_users_email_k_a1e778";
        DROP INDEX IF EXISTS "uid_rooms_name_ke_73da32";
        ALTER TABLE "rooms" DROP COLUMN "name_key";
        ALTER TABLE "users" DROP COLUMN "email_key";"""


MODELS_STATE = (
    "eJztXWtz4jgW/Ssuf+quyqYSQh7LTG0VCfQ02wGmEjI7NZMpt2MroIotM5ZJmu3Nf19Jtv"
    "yUjU0wAbe+hCDpyvK50tU9Vw++q7ZjAgsfdhfe7BZgDB2kdpTvKtJtQP4RZR8oqj6fR5k0"
    "wdMfLFZeJwU17JdkOfoD9lzd8Ejmo25hQJJMgA0Xzj3/WeoYAcVyphB1FG8GSCkbWksFPA"
    "N3qbiOp3vAVFzw6AI8UzznCSDlAVgOmmLy7ZA+wnQM8gyIpm+u7R7do65hkOb7eVgxdJcI"
    "0pqCl1KgqXz4+hVD8+vXjz+Rqp6dJ/LoeJF7BNGzbkGTPAzTDFvRkcnbkHi28xhrJXuZBY"
    "J/L4DmOVNAclzySn/+RZIhMsE3gPnX+ZP2CIFlJnQFTVoBS9e85Zyl3d0Nep9YSQrUg2Y4"
    "1sJGUen50ps5KCy+WEDzkMrQvClAwKWAxXSHFpYV6Jon+S0mCZ67AGFTzSjBBI/6wqI9QP"
    "35cYEMqniFPYn+af8raFqsmKaNxhPttj/RNDXTYWgTUloPkgzS50hng8ijQH1/9euNAGGp"
    "Kn3A1efuzYeTs48MAgd7U5dlMrjUVyaoe7ovykCPUDZcQDHRdC+Ldo/keNAGYsSTkinkzU"
    "D0kP+zjgZ4QqSCaMxxcDl8NQCukhc0x8haBrovUMBkMOzfTrrDX+njbIz/thh+3Umf5rRY"
    "6jKV+sHXl0PMiW9swkqU/wwmnxX6VfljPOqntRqWm/yh0jYRI+VoyHnRdDPWTXkqR42UjL"
    "TOxvlaWk9KbkDrQXN3Rel7omSOSaGWFxi4msiMDpAn1m5MIqVags8+DuEpbcQ/Wsft8/bF"
    "yVn7ghRhDQ1TzgsUPhhNiPWkE9Tjk9B4Uriy6H5yXACn6AtYMpAHpEU6MoAA1MAduQuq2T"
    "NwX3nv4anRaHb1l3BGj3cq8u7kjYHH3v6qe3vV7fVVhvCDbjy96K6p5UAdOBqa78hkQb8M"
    "5D99uQGW7gWenRjvG7+uCa2qQbgzHJ2WE8MvgWw2y27Z6RQd6VP2SvTZ9EkBZj3oAsMbEp"
    "dQZ2Mq41MnCxR61SYrqtl+2XJ+dT46AhfzTxUDohs2qAwLAuTR/vdXyvP8rkbv7ndSixjS"
    "g6DDzuB0Rr9QQfIBvs1dzgMCrDgApo21uQ55H+edTWVS5K3Yl9dKfm6ugS5rm4Nx+Db/ds"
    "cNc5FbG1dnlbkvEJGTX4hxClM+LKqAymUkqgJUSfUeQAI/fEKMRw7zikRSkJKG7iGkRT53"
    "//dJwt0e/da9YXR32P39Y8Llvh6PfuHFI397dHU9vkxDHk4JGdCvZrqbA3pcaC3Yd4zpkL"
    "n+m2YBNPVm5OtZu0ALHPOzdorNcG20WFYKZRlZ+CEjCwac5w6v3HkiLSanCsFU4Tu11YBN"
    "yEhUV3P6iDlIVl/E6hMdS8zrhXZBIrsK2bQtrBo0qTMMMAT2A3DxDM5VQQwglntQFACww3"
    "K1kH/XcWzO4zOsX/LwbfJw6QT+kE4gGYAV/b9IQjopebEXuZRTn9vH54w3uiY3QTV7Bm5p"
    "1yQapqtdPrk6VvPqWL2OXu5KT6k1njoXd+iuLKfK4k6s265ezuEt1wIpuayzQ+6kDJbLYL"
    "kMlkue1Aye5E9k1fz6hIz07AVcSbJPyZV2wLGvxJUil1aypSJQE9Zvl/jSr65jLhjFyfAl"
    "nnVQxJfmfqEa+JKMf78jYWGfFRxnXr4RVCXpNLeOjkp4zaRUrtvM8pJzfbxlGZjzSWFKbH"
    "toq2q9BnRrtHDuQkPQs3vAgLZuiVEPZdIsxRc6DIT3sKcXoN/rXw2G3esPx62DFgObQA39"
    "KYuroZ3p1thzjKcK5jgsvz339WinLbJk1j82s17MzTW1npSUWt8VrXOMYmoPD71kvPzt+/"
    "+JM0UCEpA+c5TPBLInnSQfaAwfYErVZjoWHKLIZwVJqc14q+8LswynS/O/8UkffJtDUtsa"
    "Wk9KNlDre6JlwSQv8O3weo4dltcW7IV+g3tnhEs4+RfAJKU2eRHM7qp2xb0vhaccwtuP3r"
    "jgkLpLaT/BLXHaId67dmnh4QZgZ+EaQBWSjiDvoJhw+KXq5xqJTVlPJIM+cfWOrLCBGpWR"
    "+7F2iM5Az6q0vhEKyAUOucCx0wsc3Dxle3YfLezM5JhAn8tuEfbe+Opu2B9NKsIfynUU/t"
    "89mtxNxjeD7nVH4f/do+vB6EtHoX/v0W+DXn/cUdjHPRpPPvdvOgr7UNcYNsdnJUbNcdoh"
    "jQYNzUodlnCtKjYpKN68bYqto/ZFKYvUvigwSTRTRldkdIXr7mFZbXNdRm6tNcpdG2gbXq"
    "V8hBaoBmtMQgK6cssiRWsDZPfWIxLmp6Cy/UK4LNWNdawEzyXPV0Z319dqjlXYALwlNy/u"
    "KbAZQ5gD7zvFEehuXFEMIdilWxA/ICXkOmWziP377lts9Nok/dSegMBeFsPLZRoHceu0DA"
    "MkpfJJymmGA0KszV34TBDJ4nzpOBbQUY6FSAimwH4gknWxkjBlu8GTy/H4OsFALgfp6Mjd"
    "8LJPKHhq96Lcaid5odCtkbywNhojve0tetsxVzh5X1VqNqlw83jygqw9s2F5yCesQfzeh7"
    "fgFF4x0RSQ6uRusbCEgMElgxb5PI4S/y2vATsvKLz9ZPU6MGugxmXkOvDu0EWqmaqUMS7T"
    "xNXg09NSrOa0gNWcZlZe/MtMfKAqYJ2Wk3iXwxvD/4r4I5zmn8QKJJp0j8A/W62Tk/PW0c"
    "nZxWn7/Pz04ii0H9msIkNyOfhlMEqxS8E1xzOdEPoq3TuSaGDH3nwEChOHgDgSVYNQKbHG"
    "xaGOW2VWy0mp/K0ILblWLmMipIq4X1vS1YyLNGnyqCsUwvDaXhRk19AtGwaJd6u3/PpabI"
    "vw+rQ+vh+5GVGnWmk965oCQs+7bD6Vp5eKyiXZZnFsYOuw0r7GUKBxnlrrtIxPTEoVcL2M"
    "V8zgquoTJ4Qah/PxUasM0LRYvk/MMlOXx+gYvzjEPFY9CJ0RbCDfq4WGmBDPLX2pVQ3Spe"
    "WaiHepYxvHBcc2jrPHNlwn71zM6tMDXHaLpweGfbrEr1bDW+32hoNRR2Ef98ivo6PE6nr3"
    "kwAQa8T5gc9rbAKJ5La4B4SberkFRIY7djzckaHmZXgk5it72eFYgUY288hxcr62seYCAx"
    "ATJOBSVcDK/C53U+HCwh8GkFBlNmjIvSxyL8vmQIoO5wczuAwRFqFFz0psCKly16fvI0rh"
    "TqT10al0UmtvBl6d0eYucKExUwXx5iDnoCjirEdlZMh5W/2k7pDzM5nfhRdP5AeMYiINjB"
    "XVssmIDqoKCAfFG4huLZG43J8M+/fteFS4W04Uh4CGp/xPsSDexxX5AnApGIlgQ+YKlfRt"
    "KQfJKAKt4FK0Yr/N06yv/wf6AizS"
)
