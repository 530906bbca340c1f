"""Dead letters: rejected input kept with its original bytes (or a bounded prefix) and the reason."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime

from marchwarden.contracts.common import Contract

DeadLetterKind = Literal[
    "empty",
    "too_large",
    "not_json",
    "not_an_object",
    "unknown_event_type",
    "unsupported_schema_version",
    "invalid",
    "future",
    "invalid_transition",
    "unknown_alert",
    "history_rejected",
    "unprocessable",
    # Version 3: commands refused for who sent them, when, or because they were seen before.
    "forbidden",
    "clock_skew",
    "duplicate_command",
]

# A letter's reason and key are bounded so that no input can make its letter large.
REASON_LIMIT = 2000
KEY_LIMIT = 1024
# JSON field names, timestamps and the other small fields of one letter stay well below this.
ENVELOPE_BYTES = 1024
# The smallest letter bound that always has room for the envelope, the longest reason (every
# character escaped) and the longest key, with some of the value.
MIN_LETTER_BYTES = 16 * 1024


class DeadLetter(Contract):
    """One rejected message.

    value_b64 holds the original bytes exactly, unless value_truncated: then it holds the
    first bytes only, and value_size and value_sha256 describe the whole original value.
    Version 2 added value_sha256, value_truncated and the kinds future, history_rejected and
    unprocessable; a version 1 letter reads as a version 2 letter without them. Version 3
    added the kinds forbidden, clock_skew and duplicate_command (refused operator commands).
    """

    schema_version: Literal[1, 2, 3] = 3
    topic: str
    partition: int
    offset: int
    key_b64: str | None
    value_b64: str
    value_size: int
    value_sha256: str | None = None
    value_truncated: bool = False
    kind: DeadLetterKind
    reason: str
    received_at: AwareDatetime


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def bounded_dead_letter(
    *,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    kind: DeadLetterKind,
    reason: str,
    received_at: datetime,
    keep_bytes: int,
    prefix_bytes: int,
    max_letter_bytes: int,
) -> DeadLetter:
    """A dead letter that never exceeds `max_letter_bytes` once encoded as JSON.

    Values up to `keep_bytes` are kept whole; a larger value (or one whose letter would not
    fit) keeps its first `prefix_bytes` only, with its size and SHA-256, so the original can
    still be identified. The broker refuses messages above its limit, and a letter it refused
    would be lost, so the bound is checked here, before anything is sent.
    """
    raw = value or b""
    if len(reason) > REASON_LIMIT:
        reason = reason[: REASON_LIMIT - 1] + "…"
    if key is not None and len(key) > KEY_LIMIT:
        reason = f"{reason} (key of {len(key)} bytes cut to {KEY_LIMIT})"
        key = key[:KEY_LIMIT]
    # base64 grows 3 bytes into 4; the reason may need up to 6 bytes per character (escapes).
    fixed = ENVELOPE_BYTES + len(topic) * 6 + len(reason.encode()) * 6
    fixed += 4 * (len(key) + 2) // 3 if key is not None else 0
    room = (max_letter_bytes - fixed) * 3 // 4
    keep = len(raw) <= keep_bytes and len(raw) <= room
    kept = raw if keep else raw[: max(0, min(prefix_bytes, room))]
    return DeadLetter(
        topic=topic,
        partition=partition,
        offset=offset,
        key_b64=_b64(key) if key is not None else None,
        value_b64=_b64(kept),
        value_size=len(raw),
        value_sha256=hashlib.sha256(raw).hexdigest(),
        value_truncated=not keep,
        kind=kind,
        reason=reason,
        received_at=received_at,
    )
