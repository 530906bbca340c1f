"""History errors, the gateway's lane secrets and DSN redaction: shared by the store, the
gateway and its client, below all three."""

from __future__ import annotations

import re
from dataclasses import dataclass


class HistoryUnavailable(RuntimeError):
    """ClickHouse could not be reached or opened; the message says which and why."""


class ReadOnlyViolation(PermissionError):
    """A read-only query tried to change data; ClickHouse itself refused it."""


_READONLY_MARKERS = ("readonly mode", "READONLY", "Cannot execute query in readonly")


def redact_dsn(dsn: str) -> str:
    """The DSN without any password, for messages and logs."""
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", dsn)


@dataclass(frozen=True)
class GatewaySecrets:
    """The two lanes of the history gateway: reads (readonly) and writes (inserts, DDL)."""

    read: str
    write: str
