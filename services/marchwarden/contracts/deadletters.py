"""Dead letters: rejected input kept with its original bytes and the reason."""

from __future__ import annotations

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
    "invalid_transition",
    "unknown_alert",
]


class DeadLetter(Contract):
    """One rejected message; value_b64 holds the original bytes exactly."""

    schema_version: Literal[1] = 1
    topic: str
    partition: int
    offset: int
    key_b64: str | None
    value_b64: str
    value_size: int
    kind: DeadLetterKind
    reason: str
    received_at: AwareDatetime
