"""Version 3 of alerts and commands, the sensor heartbeat, and the upcasters to them."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from marchwarden.contracts.alerts import ALERT_RULES, AlertState
from marchwarden.contracts.commands import OperatorCommand
from marchwarden.contracts.decoding import Rejection, decode_command, decode_event, decode_model
from marchwarden.contracts.events import IndicatorCategory, SensorHeartbeat
from marchwarden.contracts.schemas import render_schemas
from marchwarden.reference import load_reference
from tests.domain.factories import T0

V1_ALERT: dict[str, Any] = {
    "alert_id": "move_equipment_to_arteries.LT-BY-03.1",
    "schema_version": 1,
    "rule": "move_equipment_to_arteries",
    "level": "high",
    "status": "raised",
    "section_id": "LT-BY-03",
    "raised_at": T0.isoformat(),
    "updated_at": T0.isoformat(),
    "version": 1,
    "evidence": {"indicator_ids": ["ind-1"], "event_ids": ["e"]},
    "recommendation": {
        "summary": "Block 2 arteries toward LT-BY-03 (LT-A3, LT-R-SVENCIONYS)",
        "road_speed_kmh": 50.0,
        "arteries": [
            {
                "artery_id": "LT-A3",
                "artery_name": "A3",
                "required": {"dragons_teeth": 300},
                "draws": [
                    {
                        "park_id": "LT-P-MEDININKAI",
                        "park_name": "Medininkai",
                        "distance_km": 0.0,
                        "travel_minutes": 30.0,
                        "equipment": {"dragons_teeth": 300},
                    }
                ],
                "shortfall": {},
            }
        ],
    },
}


def alert_from_json(text: str) -> AlertState:
    decoded = decode_model(text.encode(), AlertState)
    if isinstance(decoded, Rejection):
        raise ValueError(decoded.reason)
    return decoded


def command(**fields: Any) -> dict[str, Any]:
    doc = {
        "command_id": "c-1",
        "schema_version": 3,
        "command": "acknowledge",
        "alert_id": "surge.LT-BY-01.1",
        "operator_id": "op-7",
        "note": "",
        "issued_at": T0.isoformat(),
    }
    doc.update(fields)
    return doc


def test_older_alerts_from_history_are_upcast_with_their_implied_playbook() -> None:
    alert = alert_from_json(json.dumps(V1_ALERT))
    assert alert.schema_version == 3
    assert alert.playbook == "counter_mobility"
    (plan,) = alert.recommendation.arteries  # type: ignore[union-attr]
    assert plan.blocking_point is None and plan.draws[0].access_km is None
    surge = alert_from_json(json.dumps({**V1_ALERT, "rule": "surge", "recommendation": None}))
    assert surge.playbook == "border_guard_reinforcement"
    v2 = {**alert.model_dump(mode="json"), "schema_version": 2}
    del v2["playbook"]
    assert alert_from_json(json.dumps(v2)).playbook == "counter_mobility"


def test_a_newer_alert_version_is_refused() -> None:
    with pytest.raises(ValueError, match="newer than this build"):
        alert_from_json(json.dumps({**V1_ALERT, "schema_version": 4}))


@pytest.mark.parametrize("version", [1, 2])
def test_older_commands_are_still_accepted(version: int) -> None:
    decoded = decode_command(json.dumps(command(schema_version=version)).encode())
    assert isinstance(decoded, OperatorCommand)
    assert (decoded.schema_version, decoded.command) == (3, "acknowledge")


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"command": "resolve", "alert_id": None}, "resolve needs an alert_id"),
        ({"command": "stand_down", "alert_id": None}, "stand_down needs an alert_id"),
        ({"command": "silence", "alert_id": None}, "needs a section_id"),
        (
            {"command": "silence", "section_id": "LT-BY-01", "note": "exercise"},
            "needs an expiry",
        ),
        (
            {
                "command": "silence",
                "section_id": "LT-BY-01",
                "until": (T0 - timedelta(hours=1)).isoformat(),
                "note": "exercise",
            },
            "needs an expiry",
        ),
        (
            {
                "command": "silence",
                "section_id": "LT-BY-01",
                "until": (T0 + timedelta(hours=1)).isoformat(),
                "note": "  ",
            },
            "needs a reason",
        ),
        ({"command": "silence", "section_id": "XX-YY-01"}, "unknown section id"),
        ({"command": "unsilence", "rule": "tea_break"}, "rule"),
    ],
)
def test_commands_carry_what_they_need(fields: dict[str, Any], problem: str) -> None:
    rejected = decode_command(json.dumps(command(**fields)).encode())
    assert isinstance(rejected, Rejection)
    assert rejected.kind == "invalid"
    assert problem in rejected.reason


def test_a_silence_names_its_scope_expiry_and_reason() -> None:
    decoded = decode_command(
        json.dumps(
            command(
                command="silence",
                alert_id=None,
                section_id="LT-RU-01",
                rule="surge",
                until=(T0 + timedelta(hours=2)).isoformat(),
                note="border-guard exercise at Kybartai",
            )
        ).encode()
    )
    assert isinstance(decoded, OperatorCommand)
    assert decoded.routing_section == "LT-RU-01"
    assert decode_command(json.dumps(command()).encode()).routing_section == "LT-BY-01"  # type: ignore[union-attr]


def test_sensor_heartbeat_is_a_border_event() -> None:
    doc = {
        "event_id": "0b0f6a52-3c39-4d1c-9d5e-2f2f8f5b9a11",
        "event_type": "sensor_heartbeat",
        "schema_version": 1,
        "occurred_at": T0.isoformat(),
        "section_id": "LT-RU-01",
        "reporter": "LT-VSAT",
        "sensor_id": "kybartai-thermal-3",
    }
    decoded = decode_event(json.dumps(doc).encode())
    assert isinstance(decoded, SensorHeartbeat) and decoded.status == "ok"
    bad = decode_event(json.dumps({**doc, "status": "asleep"}).encode())
    assert isinstance(bad, Rejection) and bad.kind == "invalid"


def test_schema_files_carry_the_current_versions() -> None:
    names = set(render_schemas())
    assert {"alert.v3.json", "operator_command.v3.json", "sensor_heartbeat.v1.json"} <= names
    assert "alert.v2.json" not in names


def test_every_alert_rule_names_a_playbook_and_every_category_calls_one() -> None:
    reference = load_reference()
    for rule in ALERT_RULES:
        assert reference.playbook_for_rule(rule).rules, rule
    for category in IndicatorCategory.__args__:  # type: ignore[attr-defined]
        playbook = reference.playbook_for_category(category)
        assert playbook.indicator_rule in ALERT_RULES
    assert {r for p in reference.playbooks for r in p.rules} == set(ALERT_RULES)


def test_alert_state_requires_a_playbook() -> None:
    doc = {**V1_ALERT, "schema_version": 3, "recommendation": None, "changed_by": "rule:x"}
    with pytest.raises(ValueError, match="playbook"):
        AlertState.model_validate(doc)
