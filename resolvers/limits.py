"""Every size limit of the domain, in one place.

Page sizes and lengths live here as constants; tunables an operator may
change (rate limits, windows, quotas, counts per message) are settings in
``core.settings``. Resolvers enforce these; GraphQL descriptions, OpenAPI
text, error messages and tests interpolate them rather than restating a
number.
"""

from __future__ import annotations

# Paging (keyset pages; legacy ?limit= listings).
MAX_PAGE = 100  # largest `first` / `last` / `limit` of a keyset page
OFFSET_LIMIT_DEFAULT = 100  # legacy REST ?limit= when none is given
OFFSET_LIMIT_MAX = 1000  # largest legacy REST ?limit=
MAX_OFFSET = 2**31 - 1

# Products.
PRODUCT_NAME_MAX = 200
PRODUCT_DESCRIPTION_MAX = 10_000
PRODUCT_SEARCH_MAX = 200

# Resources.
RESOURCE_TITLE_MAX = 200
RESOURCE_DESCRIPTION_MAX = 10_000
RESOURCE_URL_MAX = 2048

# Files.
FILENAME_MAX = 255
EXTENSION_MAX = 32
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
