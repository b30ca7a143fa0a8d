"""Management CLI: ``python -m comptoir COMMAND``.

Commands: serve, migrate, createuser, seed-demo, export-schema.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from core.settings import ConfigError, Settings

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from comptoir.app import build_app

    settings = _settings()
    config = uvicorn.Config(
        build_app(settings, migrate=not args.no_migrate),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=settings.log_level in {"debug", "info"},
        lifespan="on",
        ws_max_size=1024 * 1024,
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=10,
        server_header=False,
        # X-Forwarded-For is read by core.clientaddr, from TRUSTED_PROXIES only;
        # uvicorn's handling would trust any header sent from 127.0.0.1.
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 1


def _with_runtime(work: Callable[[Settings], Awaitable[int]]) -> int:
    from core import runtime

    settings = _settings()

    async def main() -> int:
        await runtime.start(settings)
        try:
            return await work(settings)
        finally:
            await runtime.stop()

    return asyncio.run(main())


def migrate(args: argparse.Namespace) -> int:
    from core import db

    settings = _settings()

    async def main() -> int:
        await db.connect(settings.database_url)
        try:
            applied = await db.migrate(settings.database_url)
        finally:
            await db.disconnect()
        print("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))
        return 0

    return asyncio.run(main())


def createuser(args: argparse.Namespace) -> int:
    from core.errors import ComptoirError
    from models import Role
    from resolvers import users

    async def work(settings: Settings) -> int:
        try:
            user = await users.create_user(
                email=args.email,
                password=args.password,
                display_name=args.display_name,
                role=Role.ADMIN if args.admin else Role.MEMBER,
            )
        except ComptoirError as error:
            print(f"error: {error.message}", file=sys.stderr)
            return 1
        print(f"created {user.role} {user.email} (id {user.id})")
        return 0

    return _with_runtime(work)


def seed_demo(args: argparse.Namespace) -> int:
    from comptoir import demo

    if _settings().production and not args.force:
        print("refusing to seed demo data outside demo mode (set DEMO=1)", file=sys.stderr)
        return 1

    async def work(settings: Settings) -> int:
        created = await demo.seed_if_empty()
        print("demo data created" if created else "database not empty: nothing done")
        return 0

    return _with_runtime(work)


def export_schema(args: argparse.Namespace) -> int:
    from schema import build_schema

    sdl = build_schema().as_str() + "\n"
    if args.output == "-":
        sys.stdout.write(sdl)
    else:
        Path(args.output).write_text(sdl, encoding="utf-8")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m comptoir", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="run the HTTP and WebSocket servers")
    p.add_argument("--no-migrate", action="store_true", help="do not apply migrations at start")
    p.set_defaults(func=serve)
    sub.add_parser("migrate", help="apply pending migrations").set_defaults(func=migrate)
    p = sub.add_parser("createuser", help="create an account")
    p.add_argument("--email", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--display-name", default=None)
    p.add_argument("--admin", action="store_true")
    p.set_defaults(func=createuser)
    p = sub.add_parser("seed-demo", help="create the demo data on an empty database")
    p.add_argument("--force", action="store_true", help="allow outside demo mode")
    p.set_defaults(func=seed_demo)
    p = sub.add_parser("export-schema", help="print the GraphQL SDL")
    p.add_argument("--output", "-o", default="-", help="file to write (default: stdout)")
    p.set_defaults(func=export_schema)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
