"""Management CLI: ``comptoir COMMAND`` (or ``python -m comptoir COMMAND``).

Commands: serve, migrate, createuser, seed-demo, export-schema.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from core import logs
from core.settings import ConfigError, Settings
from core.startup import StartupError

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


def _settings(*, signing: bool = False) -> Settings:
    """The settings; only commands that sign tokens (``signing``) need JWT_SECRET."""
    try:
        settings = Settings.from_env(signing=signing)
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    logs.configure(settings.log_format, settings.log_level)
    return settings


def _check(settings: Settings) -> None:
    """Reach the database and the broker before serving: a failure is one line
    (uvicorn would print the lifespan's traceback)."""
    from core import runtime
    from core.startup import check_listen

    check_listen("PORT", settings.host, settings.port)
    check_listen("WS_PORT", settings.host, settings.ws_port)

    async def main() -> None:
        await runtime.start(settings, migrate=False)
        await runtime.stop()

    asyncio.run(main())


def serve(args: argparse.Namespace) -> int:

    from comptoir.app import build_app
    from comptoir.banner import BannerServer
    from comptoir.timeouts import uvicorn_config

    settings = _settings(signing=True)
    _check(settings)
    config = uvicorn_config(
        build_app(settings, migrate=not args.no_migrate),
        settings,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        # Logging is configured by core.logs; comptoir.access writes one
        # line per request (with its id, route and user) instead of uvicorn.
        log_config=None,
        access_log=False,
        ws_max_size=1024 * 1024,
        timeout_graceful_shutdown=10,
        server_header=False,
    )
    server = BannerServer(config)
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
    from core.startup import reach

    settings = _settings()

    async def main() -> int:
        url = settings.database_url
        await reach("DATABASE_URL", url, db.connect_checked(url), seconds=settings.startup_timeout)
        try:
            applied = await db.migrate(url)
        finally:
            await db.disconnect()
        print("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))
        return 0

    return asyncio.run(main())


def _password(args: argparse.Namespace) -> str:
    """--password, else a prompt (asked twice) on a terminal, else one line of stdin."""
    if args.password is not None:
        return str(args.password)
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Password (again): ") != first:
            raise SystemExit("error: the passwords do not match")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def createuser(args: argparse.Namespace) -> int:
    from core.errors import ComptoirError
    from models import Role
    from resolvers import users

    password = _password(args)

    async def work(settings: Settings) -> int:
        try:
            user = await users.create_user(
                email=args.email,
                password=password,
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
        from resolvers import live, response_cache

        # As when serving: the products it creates move the catalogue's
        # version, which running servers read (with Redis) before answering
        # from their response cache.
        await live.start()
        await response_cache.start(settings)
        try:
            created = await demo.seed_if_empty()
        finally:
            await response_cache.stop()
            await live.stop()
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
    parser = argparse.ArgumentParser(prog="comptoir", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="run the HTTP and WebSocket servers")
    p.add_argument("--no-migrate", action="store_true", help="do not apply migrations at start")
    p.set_defaults(func=serve)
    sub.add_parser("migrate", help="apply pending migrations").set_defaults(func=migrate)
    p = sub.add_parser("createuser", help="create an account")
    p.add_argument("--email", required=True)
    p.add_argument(
        "--password", default=None, help="default: prompt on a terminal, else one line of stdin"
    )
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
    try:
        result: int = args.func(args)
    except StartupError as error:
        print(f"startup error: {error}", file=sys.stderr)
        return 1
    return result


if __name__ == "__main__":
    raise SystemExit(main())
