"""Decode raw message bytes into validated contracts, or a rejection with a readable reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError

from marchwarden.contracts.commands import OperatorCommand
from marchwarden.contracts.deadletters import DeadLetterKind
from marchwarden.contracts.events import EVENT_TYPES, BorderEvent
from marchwarden.contracts.upcasting import UnsupportedSchemaVersion, upcast

EVENT_ADAPTER: TypeAdapter[BorderEvent] = TypeAdapter(BorderEvent)
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message was refused; becomes a dead letter."""

    kind: DeadLetterKind
    reason: str


def describe_validation_error(error: ValidationError) -> str:
    """One line a person can read: `field: problem; field: problem`."""
    parts = []
    for item in error.errors(include_url=False):
        where = ".".join(str(p) for p in item["loc"]) or "message"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def _load_object(raw: bytes | None, max_bytes: int) -> dict[str, Any] | Rejection:
    if not raw:
        return Rejection("empty", "empty message value")
    if len(raw) > max_bytes:
        return Rejection("too_large", f"value is {len(raw)} bytes, over the {max_bytes}-byte limit")
    try:
        document = orjson.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        return Rejection("not_json", f"not UTF-8 JSON: {exc}")
    if not isinstance(document, dict):
        return Rejection("not_an_object", f"expected a JSON object, got {type(document).__name__}")
    return document


def _short(value: Any, limit: int = 64) -> str:
    """repr() of a sender's value, cut: a reason must not grow with the input."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def decode_event(raw: bytes | None, max_bytes: int = 64 * 1024) -> BorderEvent | Rejection:
    """Bytes -> upcast -> validated event, or the reason it was refused."""
    document = _load_object(raw, max_bytes)
    if isinstance(document, Rejection):
        return document
    event_type = document.get("event_type")
    if event_type not in EVENT_TYPES:
        return Rejection(
            "unknown_event_type",
            f"event_type {_short(event_type)} is not one of {', '.join(EVENT_TYPES)}",
        )
    try:
        document = upcast(document)
    except UnsupportedSchemaVersion as exc:
        return Rejection("unsupported_schema_version", str(exc))
    try:
        return EVENT_ADAPTER.validate_python(document)
    except ValidationError as exc:
        return Rejection("invalid", f"invalid {event_type}: {describe_validation_error(exc)}")


def decode_model(raw: bytes | None, model: type[M], max_bytes: int = 64 * 1024) -> M | Rejection:
    """Decode one message into a single contract model (commands, alerts)."""
    document = _load_object(raw, max_bytes)
    if isinstance(document, Rejection):
        return document
    try:
        return model.model_validate(upcast(document))
    except UnsupportedSchemaVersion as exc:
        return Rejection("unsupported_schema_version", str(exc))
    except ValidationError as exc:
        return Rejection("invalid", f"invalid {model.__name__}: {describe_validation_error(exc)}")


def decode_command(raw: bytes | None, max_bytes: int = 64 * 1024) -> OperatorCommand | Rejection:
    return decode_model(raw, OperatorCommand, max_bytes)
