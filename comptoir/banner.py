"""The start-up banner: where to go once the servers listen.

Printed on every start, whatever ``LOG_LEVEL`` says (the banner logger
keeps INFO), with the ports actually bound (``PORT=0`` picks a free one).
"""

from __future__ import annotations

import logging
import socket

import uvicorn
from starlette.applications import Starlette

from comptoir.demo import DEMO_ACCOUNTS, DEMO_PASSWORD
from core.settings import Settings

log = logging.getLogger("comptoir.banner")
log.setLevel(logging.INFO)

ANY_ADDRESS = {"0.0.0.0", "::", ""}


def lines(settings: Settings, http_port: int, ws_port: int) -> list[str]:
    host = "localhost" if settings.host in ANY_ADDRESS else settings.host
    if ":" in host:
        host = f"[{host}]"
    http, ws = f"http://{host}:{http_port}", f"ws://{host}:{ws_port}"
    out = [
        f"GraphiQL:        {http}/graphql"
        + ("" if settings.graphiql else " (disabled: set GRAPHIQL=1)"),
        f"REST API docs:   {http}/docs",
        f"GraphQL over WS: ws://{host}:{http_port}/graphql",
        f"chat WebSocket:  {ws}",
    ]
    if settings.demo:
        logins = ", ".join(DEMO_ACCOUNTS)
        out.append(f"demo mode: log in as {logins} with password {DEMO_PASSWORD!r}")
    return out


class BannerServer(uvicorn.Server):
    """uvicorn's server, printing the banner once it listens."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.should_exit or not self.servers:
            return
        app = self.config.app
        assert isinstance(app, Starlette)
        http_port = int(self.servers[0].sockets[0].getsockname()[1])
        for line in lines(app.state.settings, http_port, app.state.chat.port):
            log.info(line)
