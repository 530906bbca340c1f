"""History errors, the gateway's lane secrets and DSN redaction: shared by the store, the
gateway and its client, below all three.

Every backend of the history (clickhouse-connect over HTTP or chDB, the embedded gateway)
raises the same three errors, so callers decide by type and code, never by parsing text:
`HistoryUnavailable` (nothing could be done: retry), `HistoryRefused` (ClickHouse refused the
statement, with its error code when it gave one) and `ReadOnlyViolation` (a read tried to
write). The gateway carries them across HTTP as `kind` and `code`.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from clickhouse_connect.driver.exceptions import ClickHouseError, OperationalError


class HistoryUnavailable(RuntimeError):
    """ClickHouse could not be reached or opened; the message says which and why."""


class HistoryRefused(RuntimeError):
    """ClickHouse refused a statement or its data; `code` is ClickHouse's error code, if any
    (None: refused before it reached the server, a value the client cannot encode say)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class ReadOnlyViolation(PermissionError):
    """A read-only query tried to change data; ClickHouse itself refused it."""


READONLY_CODE = 164
_READONLY_MARKERS = ("readonly mode", "READONLY", "Cannot execute query in readonly")
_CODE = re.compile(r"Code: (\d+)\.")
# What clickhouse-connect raises for a value it cannot encode (a UUID that is not one, a
# number past its column's range).
CLIENT_REFUSALS = (ValueError, TypeError, OverflowError, struct.error)


def clickhouse_code(text: str) -> int | None:
    """ClickHouse's error code in an error message (`Code: N.`), if there is one."""
    found = _CODE.search(text)
    return int(found.group(1)) if found else None


def translate(exc: Exception) -> Exception:
    """A clickhouse-connect error as one of the history's own; others are returned as they are."""
    if isinstance(exc, OperationalError):
        return HistoryUnavailable(str(exc))
    if isinstance(exc, CLIENT_REFUSALS):
        # The client could not encode what it was given: refused before it reached ClickHouse.
        return HistoryRefused(f"{type(exc).__name__}: {exc}", None)
    if not isinstance(exc, ClickHouseError):
        return exc
    text = str(exc)
    code = clickhouse_code(text)
    if code == READONLY_CODE or any(marker in text for marker in _READONLY_MARKERS):
        return ReadOnlyViolation("refused: history queries are read-only (ClickHouse readonly=1)")
    return HistoryRefused(text, code)


# How the errors cross the gateway: its answer's `kind`, and the HTTP status it comes with.
ERROR_KINDS: dict[type[Exception], tuple[str, int]] = {
    ReadOnlyViolation: ("readonly", 403),
    HistoryRefused: ("refused", 400),
    HistoryUnavailable: ("unavailable", 503),
}


def error_answer(exc: Exception) -> tuple[dict[str, object], int]:
    """The gateway's JSON answer and status for a history error."""
    for kind, (name, status) in ERROR_KINDS.items():
        if isinstance(exc, kind):
            code = exc.code if isinstance(exc, HistoryRefused) else None
            return {"error": str(exc), "kind": name, "code": code}, status
    raise TypeError(f"not a history error: {exc!r}")


def error_from_answer(answer: dict[str, object], fallback: str) -> Exception:
    """The history error a gateway answer carries (the inverse of `error_answer`)."""
    message = str(answer.get("error", fallback))
    kind = answer.get("kind")
    if kind == "readonly":
        return ReadOnlyViolation(message)
    if kind == "unavailable":
        return HistoryUnavailable(message)
    code = answer.get("code")
    return HistoryRefused(message, code if isinstance(code, int) else None)


def redact_dsn(dsn: str) -> str:
    """The DSN without any password, for messages and logs."""
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", dsn)


@dataclass(frozen=True)
class GatewaySecrets:
    """The two lanes of the history gateway: reads (readonly) and writes (inserts, DDL)."""

    read: str
    write: str
