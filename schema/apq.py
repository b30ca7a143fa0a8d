"""Automatic persisted queries (Apollo's APQ protocol) for ``/graphql``.

A client sends ``extensions.persistedQuery = {"version": 1, "sha256Hash": H}``
instead of the document. If this process knows ``H``, it runs the stored
document; if not, it answers the error ``PersistedQueryNotFound`` (code
``PERSISTED_QUERY_NOT_FOUND``) and the client sends the document with the
hash, which is checked (SHA-256 of the exact text) and stored. With the
document gone from the request, queries fit a ``GET`` URL that HTTP caches
can hold (``GET /graphql?extensions=...&variables=...``).

The store is per process, least recently used, at most ``APQ_MAX_ENTRIES``
documents of at most :data:`MAX_DOCUMENT_CHARS` characters each (a longer
document runs but is not stored). A process that does not know a hash costs
the client one round trip, so there is nothing to share between processes.
A hash that does not match its document is refused (400, BAD_USER_INPUT),
so that nobody can store a document under someone else's hash.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import replace

from cross_web import HTTPException
from graphql import GraphQLError
from strawberry.http import GraphQLRequestData

from schema.limits import CACHEABLE_CHARS

VERSION = 1
MAX_DOCUMENT_CHARS = CACHEABLE_CHARS
NOT_FOUND = "PersistedQueryNotFound"
NOT_FOUND_CODE = "PERSISTED_QUERY_NOT_FOUND"
MISMATCH = "provided sha does not match query"


def is_persisted_get(params: Mapping[str, object]) -> bool:
    """A GET naming its operation by hash (``?extensions=...persistedQuery...``)."""
    raw = params.get("extensions")
    return isinstance(raw, str) and "persistedQuery" in raw


class NotFoundError(Exception):
    """The hash is not known here: the client must send the document."""

    def graphql_error(self) -> GraphQLError:
        return GraphQLError(NOT_FOUND, extensions={"code": NOT_FOUND_CODE})


class PersistedQueries:
    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._store: OrderedDict[str, str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._store)

    def resolve(self, data: GraphQLRequestData) -> GraphQLRequestData:
        """The request with its document, for a persisted-query request; else as is.

        Raises :class:`NotFoundError` for an unknown hash sent alone, and a
        400 for a malformed extension or a hash that does not match.
        """
        extension = (data.extensions or {}).get("persistedQuery")
        if extension is None:
            return data
        if not isinstance(extension, dict):
            raise HTTPException(400, "extensions.persistedQuery must be an object.")
        if extension.get("version") != VERSION:
            raise HTTPException(400, "Unsupported persisted query version: only 1 is known.")
        digest = extension.get("sha256Hash")
        if not isinstance(digest, str) or len(digest) != 64:
            raise HTTPException(400, "extensions.persistedQuery.sha256Hash must be a SHA-256.")
        digest = digest.lower()
        if data.query is None:
            query = self._store.get(digest)
            if query is None:
                raise NotFoundError()
            self._store.move_to_end(digest)
            return replace(data, query=query)
        if hashlib.sha256(data.query.encode("utf-8")).hexdigest() != digest:
            raise HTTPException(400, MISMATCH)
        if len(data.query) <= MAX_DOCUMENT_CHARS and self.max_entries > 0:
            self._store[digest] = data.query
            self._store.move_to_end(digest)
            while len(self._store) > self.max_entries:
                self._store.popitem(last=False)
        return data
