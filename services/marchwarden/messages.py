"""One line of an exception, bounded: what people and logs are shown instead of a traceback."""

from __future__ import annotations


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The exception's first line (its type's name if it has no text), at most `limit` chars."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:limit]
