"""Contract bounds: what the store cannot hold, or no honest sender means, is refused at the door."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from marchwarden.contracts import CrossingAttempt, OperatorCommand
from marchwarden.contracts.deadletters import MIN_LETTER_BYTES, DeadLetter, bounded_dead_letter
from marchwarden.contracts.decoding import Rejection, decode_command, decode_event
from marchwarden.contracts.events import MAX_PERSONS_PER_REPORT
from tests.support.stack import event

T0 = datetime(2024, 7, 1, 12, tzinfo=UTC)


def decoded(**change: Any) -> Any:
    return decode_event(json.dumps(event("crossing_attempt", "LT-BY-01", T0) | change).encode())


def test_the_largest_allowed_group_is_accepted() -> None:
    assert isinstance(decoded(persons=MAX_PERSONS_PER_REPORT), CrossingAttempt)


@pytest.mark.parametrize("persons", [MAX_PERSONS_PER_REPORT + 1, 4294967296, 2**63, 1e3, True])
def test_persons_beyond_the_bound_or_not_an_int_is_invalid(persons: Any) -> None:
    result = decoded(persons=persons)
    assert isinstance(result, Rejection) and result.kind == "invalid"
    assert "persons" in result.reason


@pytest.mark.parametrize(
    ("version", "kind"),
    [
        (True, "unsupported_schema_version"),
        (1.0, "unsupported_schema_version"),
        ("1", "unsupported_schema_version"),
    ],
)
def test_schema_version_must_be_the_integer_one(version: Any, kind: str) -> None:
    result = decoded(schema_version=version)
    assert isinstance(result, Rejection) and result.kind == kind
    assert "integer" in result.reason


@pytest.mark.parametrize(
    ("occurred_at", "fragment"),
    [
        (1719835200, "RFC 3339"),
        (1719835200.5, "RFC 3339"),
        ("1719835200", "RFC 3339"),
        (True, "RFC 3339"),
        ("2024-07-01", "RFC 3339"),
        ("1999-12-31T23:59:59+00:00", "between 2000-01-01"),
        ("2100-01-01T00:00:00Z", "between 2000-01-01"),
    ],
)
def test_times_must_be_rfc3339_text_within_bounds(occurred_at: Any, fragment: str) -> None:
    result = decoded(occurred_at=occurred_at)
    assert isinstance(result, Rejection) and result.kind == "invalid"
    assert "occurred_at" in result.reason and fragment in result.reason


def test_the_earliest_allowed_time_is_accepted() -> None:
    result = decoded(occurred_at="2000-01-01T02:00:00+02:00")
    assert isinstance(result, CrossingAttempt)


def test_indicator_valid_until_is_bounded_like_every_time() -> None:
    doc = event("indicator", "LT-RU-01", T0, valid_until="9999-12-31T00:00:00Z")
    result = decode_event(json.dumps(doc).encode())
    assert isinstance(result, Rejection) and "valid_until" in result.reason


def _command(**change: Any) -> bytes:
    doc = {
        "command_id": "c-1",
        "schema_version": 1,
        "command": "acknowledge",
        "alert_id": "surge.LT-BY-01.1",
        "operator_id": "op-7",
        "issued_at": T0.isoformat(),
    }
    return json.dumps(doc | change).encode()


def test_commands_are_strictly_typed_too() -> None:
    assert isinstance(decode_command(_command()), OperatorCommand)
    for change in (
        {"schema_version": True},
        {"issued_at": 1719835200},
        {"issued_at": "1980-01-01T00:00:00Z"},
    ):
        assert isinstance(decode_command(_command(**change)), Rejection), change


def test_a_long_event_type_does_not_make_a_long_reason() -> None:
    result = decode_event(json.dumps({"event_type": "x" * 50_000}).encode(), max_bytes=10**6)
    assert isinstance(result, Rejection) and result.kind == "unknown_event_type"
    assert len(result.reason) < 300


# -- dead letters are bounded whatever the input


def letter(
    value: bytes, key: bytes | None = b"LT-BY-01", reason: str = "why", **limits: int
) -> DeadLetter:
    bounds = {
        "keep_bytes": 64 * 1024,
        "prefix_bytes": 4096,
        "max_letter_bytes": 512 * 1024,
    } | limits
    return bounded_dead_letter(
        topic="border.crossings",
        partition=3,
        offset=7,
        key=key,
        value=value,
        kind="too_large",
        reason=reason,
        received_at=T0,
        **bounds,
    )


def test_a_value_within_the_limit_is_kept_whole() -> None:
    value = b'{"a": 1}'
    kept = letter(value)
    assert base64.b64decode(kept.value_b64) == value
    assert not kept.value_truncated
    assert kept.value_size == len(value)
    assert kept.value_sha256 == hashlib.sha256(value).hexdigest()


def test_an_oversized_value_keeps_size_hash_and_a_prefix() -> None:
    value = bytes(range(256)) * 3600  # ~900 kB, the size that crashed the worker
    kept = letter(value)
    assert kept.value_truncated
    assert base64.b64decode(kept.value_b64) == value[:4096]
    assert kept.value_size == len(value)
    assert kept.value_sha256 == hashlib.sha256(value).hexdigest()
    assert len(kept.model_dump_json()) < 8 * 1024


@pytest.mark.parametrize("max_letter_bytes", [MIN_LETTER_BYTES, 64 * 1024, 1024 * 1024])
def test_no_letter_exceeds_its_bound_even_with_a_huge_key_and_reason(max_letter_bytes: int) -> None:
    kept = letter(
        b"\x00" * 2_000_000,
        key=b"k" * 500_000,
        reason='"\\' * 100_000,
        keep_bytes=10**7,
        prefix_bytes=10**6,
        max_letter_bytes=max_letter_bytes,
    )
    assert len(kept.model_dump_json().encode()) <= max_letter_bytes
    assert kept.value_size == 2_000_000 and kept.value_truncated
    assert "key of 500000 bytes" in kept.reason


def test_a_version_one_letter_still_reads() -> None:
    v1 = letter(b"x").model_dump(mode="json") | {"schema_version": 1}
    del v1["value_sha256"], v1["value_truncated"]
    assert DeadLetter.model_validate(v1).value_truncated is False
