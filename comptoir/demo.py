"""Demo data for a first run (``DEMO=1``): never in production mode.

Products are created through ``resolvers.products``, as an admin creates
them at a door: the catalogue's version moves (``resolvers.response_cache``),
so no process serves a cached catalogue from before the seed. Seeding
therefore needs the live module and the response cache started, as they
are when serving (``comptoir.app``) and in ``comptoir seed-demo``.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from models import Membership, Resource, ResourceKind, Role, Room, User
from resolvers import products, rooms, users

log = logging.getLogger("comptoir.demo")

DEMO_PASSWORD = "supersecret"
ADMIN_EMAIL, MEMBER_EMAIL = "test@test.com", "alice@test.com"
DEMO_ACCOUNTS = (ADMIN_EMAIL, MEMBER_EMAIL)
PRODUCTS = [
    ("Espresso cup", "A 90 ml porcelain cup.", Decimal("7.50"), 120),
    ("Coffee beans 1 kg", "Single origin, medium roast.", Decimal("24.90"), 40),
    ("Desk lamp", "LED, warm white.", Decimal("39.99"), 15),
    ("Notebook A5", "Dotted, 160 pages.", Decimal("9.00"), 200),
    ("Company hoodie", "Organic cotton, navy.", Decimal("49.00"), 30),
    ("USB-C dock", "Two screens, 100 W charging.", Decimal("129.00"), 8),
]
RESOURCES = [
    (
        "Employee handbook",
        "Policies and practical information.",
        ResourceKind.DOCUMENT,
        "https://example.com/handbook",
    ),
    (
        "Getting started with the VPN",
        "Step by step.",
        ResourceKind.TUTORIAL,
        "https://example.com/vpn",
    ),
    (
        "Expense tool",
        "Submit and follow expenses.",
        ResourceKind.LINK,
        "https://example.com/expenses",
    ),
]


async def seed_if_empty() -> bool:
    """Create the demo accounts, rooms, products and resources on an empty database."""
    if await User.exists():
        return False
    admin = await users.create_user(
        email=ADMIN_EMAIL, password=DEMO_PASSWORD, display_name="Test Admin", role=Role.ADMIN
    )
    alice = await users.create_user(
        email=MEMBER_EMAIL, password=DEMO_PASSWORD, display_name="Alice"
    )
    for name in ("general", "afterworks"):
        room = await Room.create(
            name=name, name_key=rooms.room_name_key(name), is_private=False, created_by=admin
        )
        for member in (admin, alice):
            await Membership.create(room=room, user=member)
    writer = products.writer(admin)
    for name, description, price, stock in PRODUCTS:
        await products.create_product(
            writer=writer, name=name, description=description, price=price, stock=stock
        )
    for title, description, kind, url in RESOURCES:
        await Resource.create(
            title=title, description=description, kind=kind, url=url, created_by=admin
        )
    log.warning("demo data created: %s, password %r", " / ".join(DEMO_ACCOUNTS), DEMO_PASSWORD)
    return True
