"""Every size limit of the domain, and of the doors' requests, in one place.

Page sizes, lengths and request shapes (multipart parts, JSON depth, frame
size) live here as constants; tunables an operator may change (rate limits,
windows, quotas, counts per message) are settings in ``core.settings``.
Resolvers (and doors, for request shapes) enforce these; GraphQL
descriptions, OpenAPI text, error messages and tests interpolate them
rather than restating a number.
"""

from __future__ import annotations

from decimal import Decimal

# Paging (keyset pages; legacy ?limit= listings).
MAX_PAGE = 100  # largest `first` / `last` / `limit` of a keyset page
OFFSET_LIMIT_DEFAULT = 100  # legacy REST ?limit= when none is given
OFFSET_LIMIT_MAX = 1000  # largest legacy REST ?limit=
MAX_OFFSET = 2**31 - 1

# Products.
PRODUCTS_PAGE_DEFAULT = 50  # GraphQL `products` page size when none is given
PRODUCT_NAME_MAX = 200
PRODUCT_DESCRIPTION_MAX = 10_000
PRODUCT_SEARCH_MAX = 200
PRICE_MAX = Decimal("10000000000")  # exclusive: at most 10 digits before the point
PRICE_DECIMALS = 2

# Resources.
RESOURCES_PAGE_DEFAULT = 50  # GraphQL `resources` page size when none is given
RESOURCE_TITLE_MAX = 200
RESOURCE_DESCRIPTION_MAX = 10_000
RESOURCE_URL_MAX = 2048

# Files.
FILENAME_MAX = 255
EXTENSION_MAX = 32
CONTENT_TYPE_MAX = 255  # a media type the client gives (longer: octet-stream)
FILES_PAGE_DEFAULT = 50  # GraphQL `files` page size when none is given

# Chat.
ROOM_NAME_MAX = 64
CONTENT_MAX = 4000
CLIENT_ID_MAX = 64
HISTORY_DEFAULT = 50
HISTORY_MAX = 100
ROOMS_PAGE_DEFAULT = 20  # rooms per page (`first` / REST `limit`), at most MAX_PAGE
MEMBERS_PAGE_DEFAULT = 10  # members per room page, at most MAX_PAGE
REPLY_PREVIEW_CHARS = 100
SHORTCODE_MAX = 32  # a :shortcode: reaction, colons excluded

# Doors: the shape of one request, refused before any resolver runs.
# GraphQL multipart requests (uploadFile): Starlette keeps up to 1 MiB of each
# file part and each field in memory, so few parts keep one to a few MiB.
MAX_UPLOAD_FILES = 4
MAX_FORM_FIELDS = 4
# REST multipart uploads (POST /files), parsed as they stream.
MAX_PARTS = 16
MAX_FIELD_BYTES = 64 * 1024
MAX_HEADERS_PER_PART = 8
MAX_HEADER_BYTES = 8 * 1024
# REST JSON bodies.
MAX_JSON_DEPTH = 32
# The chat WebSocket server.
MAX_FRAME_BYTES = 64 * 1024
REF_MAX_CHARS = 256  # a frame's `ref`, echoed in its answers
MAX_ROOMS_PER_CONNECTION = 200  # each room is a subscription of the process

# Search.
SEARCH_QUERY_MAX_CHARS = 200
SEARCH_QUERY_MAX_TERMS = 16
SEARCH_PAGE_DEFAULT = 20
SEARCH_PAGE_MAX = 50
SEARCH_SCAN_MAX = 1000  # newest matches of each kind that are ranked
SNIPPET_WORDS = 24
SNIPPET_WORDS_BEFORE = 6
SNIPPET_MAX_CHARS = 300

# Sync: what one call returns at most (more on the next call, or paged back).
SYNC_ROOM_MESSAGES = 50  # newest messages per room
SYNC_CHANGES = 200  # changes per room, and DM changes
SYNC_DMS = 100
SYNC_TOKEN_MAX_CHARS = 60_000

# Presence: members (or DM partners) listed at most.
PRESENCE_MEMBERS_MAX = 1000
PRESENCE_PARTNERS_MAX = 1000
