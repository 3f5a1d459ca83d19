"""Text as every backend can hold it: the store's one rule for text that comes from outside.

The server decides what a transcript, a turn, an error message or a request id says, and the
file system what a path says. None of it may make a write fail, least of all the final write of
a job that streamed for hours. The rule, the same on SQLite and PostgreSQL:

* a surrogate pair given as two code points is joined into its character (lossless);
* a lone surrogate (``"\\ud800"`` is valid JSON; a file name that is not UTF-8 decodes to one)
  cannot be encoded as UTF-8, and PostgreSQL refuses NUL in text: each becomes U+FFFD
  REPLACEMENT CHARACTER, one for one, so lengths and positions are kept;
* a value longer than its column keeps its beginning and ends with "…" at exactly the
  column's length (``attempts.request_id`` holds 64 characters; a real request id is a
  36-character UUID);
* everything else is stored exactly.

U+FFFD rather than an escape such as ``\\x00``: an escape cannot be told from text that really
contains a backslash, while U+FFFD is what every UTF-8 decoder shows for input it cannot
represent, and every export (UTF-8) can write it.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"
CUT = "…"

#: what UTF-8 or PostgreSQL text cannot hold: NUL and surrogate code points
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """``text`` with surrogate pairs joined and NUL and lone surrogates replaced by U+FFFD."""
    if _UNSTORABLE.search(text) is None:
        return text  # the common case: one scan, no copy
    # UTF-16 joins the pairs; its decoder turns each lone surrogate into one U+FFFD
    joined = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return joined.replace("\x00", REPLACEMENT)


def fitted(text: str, limit: int | None) -> str:
    """:func:`storable` text of at most ``limit`` characters (``None``: no limit)."""
    text = storable(text)
    if limit is None or len(text) <= limit:
        return text
    return text[: limit - 1] + CUT
