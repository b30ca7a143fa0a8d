"""Logging: readable text by default, one JSON object a line with ``LOG_FORMAT=json``.

JSON comes from python-json-logger: it plugs into the standard ``logging``
module that Comptoir, uvicorn, Tortoise and aerich already log through, so
every library's lines come out in the same shape with no change of API.

Each line carries the id of the request being served (``request_id``):
:mod:`comptoir.access` opens a :class:`RequestContext` per request, and
:func:`set_user` records who made it once a token was checked.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar, Token
from dataclasses import dataclass

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = ["levelname", "name", "request_id", "message"]
JSON_RENAMES = {"levelname": "level", "name": "logger"}
NO_REQUEST = "-"


@dataclass(slots=True)
class RequestContext:
    request_id: str
    user_id: int | None = None


_current: ContextVar[RequestContext | None] = ContextVar("comptoir_request", default=None)


def begin(request_id: str) -> tuple[RequestContext, Token[RequestContext | None]]:
    context = RequestContext(request_id)
    return context, _current.set(context)


def end(token: Token[RequestContext | None]) -> None:
    _current.reset(token)


def set_user(user_id: int) -> None:
    """Note the authenticated user of the request being served, if any."""
    context = _current.get()
    if context is not None:
        context.user_id = user_id


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            context = _current.get()
            record.request_id = context.request_id if context else NO_REQUEST
        return True


def formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter(
            JSON_FIELDS,
            rename_fields=JSON_RENAMES,
            # ISO 8601 in UTC, to the microsecond.
            timestamp="time",
            # uvicorn repeats each message with terminal colours.
            reserved_attrs=[*RESERVED_ATTRS, "color_message"],
        )
    return logging.Formatter(TEXT_FORMAT)


def configure(log_format: str, level: str) -> None:
    """One handler on the root logger, on stderr, for every library."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Tortoise announces every connection and shutdown at INFO: noise.
    logging.getLogger("tortoise").setLevel(max(root.level, logging.WARNING))
