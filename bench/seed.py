"""Create a bench database: schema (the project's migrations), products, users, rooms.

``python -m bench.seed URL --products 60 --users 100 --login-users 20``
prints ``{"users": [{"id", "email"}], "login_users": [...]}``. Bulk users
get a cost-4 bcrypt hash (fast logins to mint tokens); login users get a
cost-12 hash, which is what the login-load line must pay.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from decimal import Decimal
from typing import Any

import bcrypt

from bench.common import PASSWORD
from core import db

ROOMS = ["general", *[f"load-{i}" for i in range(10)]]


async def seed(
    database_url: str, *, products: int, users: int, login_users: int, messages: int = 60
) -> dict[str, Any]:
    from models import Message, Product, Role, Room, User

    await db.connect(database_url)
    try:
        await db.migrate(database_url)
        await Product.bulk_create(
            [
                Product(
                    name=f"Product {i:03d}",
                    description=f"A fine product number {i}, with a description of some length.",
                    price=Decimal(f"{i}.{i % 100:02d}"),
                    stock=i * 3,
                )
                for i in range(1, products + 1)
            ]
        )
        cheap = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
        costly = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(12)).decode()
        await User.bulk_create(
            [
                User(
                    email=f"user{i}@bench.test",
                    email_key=f"user{i}@bench.test",
                    password_hash=cheap,
                    display_name=f"User {i}",
                    role=Role.MEMBER,
                )
                for i in range(users)
            ]
            + [
                User(
                    email=f"login{i}@bench.test",
                    email_key=f"login{i}@bench.test",
                    password_hash=costly,
                    display_name=f"Login {i}",
                    role=Role.MEMBER,
                )
                for i in range(login_users)
            ]
        )
        await Room.bulk_create(
            [Room(name=name, name_key=name.casefold(), is_private=False) for name in ROOMS]
        )
        # A history page for the chat lines: authors vary, as in a real room.
        general = await Room.get(name=ROOMS[0])
        authors = await User.filter(email__startswith="user").order_by("id").limit(10)
        if authors:
            await Message.bulk_create(
                [
                    Message(
                        room=general,
                        author=authors[i % len(authors)],
                        content=f"History message {i}: a line of chat of ordinary length.",
                    )
                    for i in range(messages)
                ]
            )
        rows = await User.all().order_by("id").values("id", "email")
        return {
            "users": [r for r in rows if r["email"].startswith("user")],
            "login_users": [r for r in rows if r["email"].startswith("login")],
        }
    finally:
        await db.disconnect()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("database_url")
    parser.add_argument("--products", type=int, default=60)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--login-users", type=int, default=20)
    parser.add_argument("--messages", type=int, default=60)
    args = parser.parse_args()
    result = asyncio.run(
        seed(
            args.database_url,
            products=args.products,
            users=args.users,
            login_users=args.login_users,
            messages=args.messages,
        )
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
