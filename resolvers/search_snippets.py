"""Search snippets: the words around a match, safe to render as HTML.

A snippet is at most :data:`limits.SNIPPET_WORDS` words of the content (and at
most :data:`limits.SNIPPET_MAX_CHARS` characters), starting a few words before the
first word that matches the query; ``…`` stands for cut text. Everything
is HTML-escaped except the markers :data:`MARK_OPEN` and
:data:`MARK_CLOSE` around each matching word. Words are split as the
search indexes split them (runs of letters and digits) and compared
lowercased. Built here rather than by the database (FTS5 ``snippet``,
``ts_headline``) so both dialects give the same snippet, and the escaping
cannot be confused with the markers.
"""

from __future__ import annotations

import html
import re

from resolvers import limits

MARK_OPEN = "<mark>"
MARK_CLOSE = "</mark>"
ELLIPSIS = "…"
WORD = re.compile(r"[^\W_]+")


def snippet(content: str, words: frozenset[str]) -> str:
    spans = [(m.start(), m.end()) for m in WORD.finditer(content)]
    marked = [content[s:e].lower() in words for s, e in spans]
    first = marked.index(True) if True in marked else 0
    lo = max(0, first - limits.SNIPPET_WORDS_BEFORE)
    hi = min(len(spans), lo + limits.SNIPPET_WORDS)
    if not spans:
        start, end = 0, min(len(content), limits.SNIPPET_MAX_CHARS)
    else:
        start = 0 if lo == 0 else spans[lo][0]
        end = len(content) if hi == len(spans) else spans[hi - 1][1]
        end = min(end, start + limits.SNIPPET_MAX_CHARS)
    out = [ELLIPSIS] if start > 0 else []
    at = start
    for (s, e), hit in zip(spans[lo:hi], marked[lo:hi], strict=True):
        if not hit or s >= end:
            continue
        out.append(html.escape(content[at:s]))
        out.append(MARK_OPEN + html.escape(content[s : min(e, end)]) + MARK_CLOSE)
        at = min(e, end)
    out.append(html.escape(content[at:end]))
    if end < len(content):
        out.append(ELLIPSIS)
    return "".join(out).strip()
