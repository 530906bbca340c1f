"""Wire contracts accept valid events and refuse invalid ones with a readable reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from marchwarden.contracts import AlertState, CrossingAttempt, Indicator, OperatorCommand, TurnBack
from marchwarden.contracts.decoding import Rejection, decode_command, decode_event
from marchwarden.contracts.upcasting import UPCASTERS, UnsupportedSchemaVersion, upcast
from tests.support.stack import event

T0 = datetime(2024, 7, 1, 12, tzinfo=UTC)


def encode(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("kind", "model"),
    [("crossing_attempt", CrossingAttempt), ("turn_back", TurnBack), ("indicator", Indicator)],
)
def test_valid_events_decode_to_their_model(kind: str, model: type) -> None:
    decoded = decode_event(encode(event(kind, "LT-BY-01", T0)))
    assert isinstance(decoded, model)
    assert decoded.occurred_at == T0


def test_optional_fields_are_accepted() -> None:
    doc = event(
        "crossing_attempt",
        "PL-BY-02",
        T0,
        location={"lat": 53.1, "lon": 23.9},
        source="thermal",
        outcome="detained",
        persons=7,
    )
    decoded = decode_event(encode(doc))
    assert isinstance(decoded, CrossingAttempt)
    assert decoded.location is not None and decoded.location.lat == 53.1
    indicator = event(
        "indicator",
        "LT-RU-01",
        T0,
        extra_section_ids=["LT-RU-02"],
        valid_until=(T0 + timedelta(hours=6)).isoformat(),
    )
    assert isinstance(decode_event(encode(indicator)), Indicator)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"unexpected": 1}, "unexpected: Extra inputs are not permitted"),
        ({"occurred_at": "2024-07-01T12:00:00"}, "occurred_at: Input should have timezone info"),
        ({"section_id": "LT-BY-99"}, "unknown section id 'LT-BY-99'"),
        ({"section_id": "lithuania"}, "section_id: String should match pattern"),
        ({"persons": 0}, "persons: Input should be greater than or equal to 1"),
        ({"persons": "3"}, "persons: Input should be a valid integer"),
        (
            {"outcome": "escaped"},
            "outcome: Input should be 'prevented', 'detained', 'crossed' or 'unknown'",
        ),
        ({"event_id": "not-a-uuid"}, "event_id: String should match pattern"),
    ],
)
def test_invalid_crossing_attempts_are_refused_with_a_reason(
    change: dict[str, Any], fragment: str
) -> None:
    doc = event("crossing_attempt", "LT-BY-01", T0)
    doc.update(change)
    decoded = decode_event(encode(doc))
    assert isinstance(decoded, Rejection)
    assert decoded.kind == "invalid"
    assert fragment in decoded.reason


@pytest.mark.parametrize("confidence", [-0.01, 1.01, "high"])
def test_indicator_confidence_outside_0_1_is_refused(confidence: Any) -> None:
    doc = event("indicator", "LT-RU-01", T0, confidence=confidence)
    decoded = decode_event(encode(doc))
    assert isinstance(decoded, Rejection)
    assert "confidence" in decoded.reason


def test_indicator_valid_until_must_follow_occurrence() -> None:
    doc = event("indicator", "LT-RU-01", T0, valid_until=(T0 - timedelta(hours=1)).isoformat())
    decoded = decode_event(encode(doc))
    assert isinstance(decoded, Rejection)
    assert "valid_until must be after occurred_at" in decoded.reason


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (b"", "empty"),
        (None, "empty"),
        (b"\xff\xfe garbage", "not_json"),
        (b"{not json", "not_json"),
        (b"[1, 2]", "not_an_object"),
        (b'{"event_type": "weather"}', "unknown_event_type"),
        (b"{}", "unknown_event_type"),
        (b'{"event_type": "turn_back", "schema_version": 9}', "unsupported_schema_version"),
        (b" " * (64 * 1024 + 1), "too_large"),
    ],
)
def test_malformed_messages_are_classified(raw: bytes | None, kind: str) -> None:
    decoded = decode_event(raw)
    assert isinstance(decoded, Rejection)
    assert decoded.kind == kind
    assert decoded.reason


def test_upcaster_chain_runs_before_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    """An older message goes bytes -> decode_event -> upcaster chain -> validation."""
    old = event("turn_back", "LV-BY-01", T0, persons=4)
    old["schema_version"] = 0
    old["people"] = old.pop("persons")  # the field's name in the (hypothetical) version 0

    # Without an upcaster, decoding refuses the old version before validation runs.
    refused = decode_event(encode(old))
    assert isinstance(refused, Rejection)
    assert refused.kind == "unsupported_schema_version"
    assert "no upcaster for 'turn_back' from schema_version 0" in refused.reason

    calls: list[dict[str, Any]] = []

    def upcast_v0_v1(doc: dict[str, Any]) -> dict[str, Any]:
        calls.append(dict(doc))
        doc["persons"] = doc.pop("people")
        return doc

    monkeypatch.setitem(UPCASTERS, ("turn_back", 0), upcast_v0_v1)
    decoded = decode_event(encode(old))
    assert isinstance(decoded, TurnBack), decoded
    assert (decoded.persons, decoded.schema_version) == (4, 1)
    assert calls and calls[0]["people"] == 4, "the upcaster saw the raw version-0 document"

    # Validation runs on the upcast document: what the upcaster produces must be valid.
    old["people"] = 0
    invalid = decode_event(encode(old))
    assert isinstance(invalid, Rejection) and invalid.kind == "invalid"
    assert "persons: Input should be greater than or equal to 1" in invalid.reason

    # The chain itself, step by step, on a plain dict.
    assert upcast({"event_type": "turn_back", "schema_version": 1, "people": 4}, current=2,
                  upcasters={("turn_back", 1): upcast_v0_v1}) == {
        "event_type": "turn_back",
        "schema_version": 2,
        "persons": 4,
    }  # fmt: skip
    with pytest.raises(UnsupportedSchemaVersion, match="no upcaster"):
        upcast({"event_type": "indicator", "schema_version": 1}, current=2, upcasters={})


def test_models_are_frozen() -> None:
    decoded = decode_event(encode(event("turn_back", "LV-BY-01", T0)))
    assert isinstance(decoded, TurnBack)
    with pytest.raises(Exception, match="frozen"):
        decoded.persons = 5  # type: ignore[misc]


def test_operator_command_contract() -> None:
    good = {
        "command_id": "c-1",
        "schema_version": 1,
        "command": "acknowledge",
        "alert_id": "surge.LT-BY-01.1",
        "operator_id": "op-7",
        "note": "on it",
        "issued_at": T0.isoformat(),
    }
    assert isinstance(decode_command(encode(good)), OperatorCommand)
    bad = dict(good, command="delete")
    rejected = decode_command(encode(bad))
    assert isinstance(rejected, Rejection)
    assert "command: Input should be 'acknowledge', 'resolve', 'annotate'," in rejected.reason


def test_alert_state_round_trips() -> None:
    alert = AlertState.model_validate(
        {
            "alert_id": "surge.LT-BY-01.1",
            "rule": "surge",
            "playbook": "border_guard_reinforcement",
            "level": "high",
            "status": "raised",
            "section_id": "LT-BY-01",
            "raised_at": T0.isoformat(),
            "updated_at": T0.isoformat(),
            "version": 1,
            "evidence": {"attempts_last_hour": 50, "event_ids": ["a"]},
        }
    )
    assert AlertState.model_validate_json(alert.model_dump_json()) == alert
