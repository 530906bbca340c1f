"""How an exception is told to a person or a log line: its first line, bounded."""

from __future__ import annotations


def first_line(exc: BaseException, limit: int | None = 300) -> str:
    """The exception's first line (its type name when it has no text), at most `limit` chars."""
    text = str(exc).strip() or type(exc).__name__
    line = text.splitlines()[0]
    return line if limit is None else line[:limit]
