"""Alert lifecycle as pure transitions: raise, escalate, acknowledge, resolve."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from marchwarden.alerts.lifecycle import (
    InvalidTransition,
    acknowledge,
    alert_id_for,
    escalate,
    raise_alert,
    resolve,
    section_of_alert_id,
)
from marchwarden.contracts.alerts import AlertEvidence, AlertState, Recommendation
from tests.domain.factories import T0

LATER = T0 + timedelta(minutes=5)
PLAN = Recommendation(summary="Block LT-A4", road_speed_kmh=50.0)


@pytest.fixture
def alert_factory() -> Callable[..., AlertState]:
    def make(level: str = "medium", **changes: object) -> AlertState:
        alert = raise_alert(
            "surge",
            "LT-BY-01",
            1,
            level,
            T0,
            AlertEvidence(attempts_last_hour=20),
            PLAN,
            playbook="border_guard_reinforcement",
        )
        return alert.model_copy(update=changes) if changes else alert

    return make


def test_alert_id_is_deterministic_and_carries_the_section() -> None:
    alert_id = alert_id_for("move_equipment_to_arteries", "PL-BY-02", 3)
    assert alert_id == alert_id_for("move_equipment_to_arteries", "PL-BY-02", 3)
    assert alert_id != alert_id_for("move_equipment_to_arteries", "PL-BY-02", 4)
    assert alert_id != alert_id_for("surge", "PL-BY-02", 3)
    assert section_of_alert_id(alert_id) == "PL-BY-02"


@pytest.mark.parametrize("alert_id", ["", "surge", "surge.LT-BY-01", "a.b.c.d"])
def test_malformed_alert_id_has_no_section(alert_id: str) -> None:
    assert section_of_alert_id(alert_id) is None


def test_raise_starts_at_version_1_with_status_raised(alert_factory) -> None:
    alert = alert_factory()
    assert alert.alert_id == "surge.LT-BY-01.1"
    assert (alert.status, alert.version, alert.level) == ("raised", 1, "medium")
    assert alert.raised_at == alert.updated_at == T0


def test_higher_level_escalates_the_same_alert(alert_factory) -> None:
    alert = alert_factory()
    evidence = AlertEvidence(attempts_last_hour=45)

    escalated = escalate(alert, "high", LATER, evidence)

    assert escalated is not None
    assert escalated.alert_id == alert.alert_id
    assert (escalated.status, escalated.level, escalated.version) == ("escalated", "high", 2)
    assert escalated.raised_at == T0 and escalated.updated_at == LATER
    assert escalated.evidence == evidence
    assert escalated.recommendation == PLAN  # kept when no new plan is given


def test_escalation_replaces_the_recommendation_when_given(alert_factory) -> None:
    new_plan = Recommendation(summary="Block more", road_speed_kmh=50.0)
    escalated = escalate(alert_factory(), "critical", LATER, AlertEvidence(), new_plan)
    assert escalated is not None and escalated.recommendation == new_plan


@pytest.mark.parametrize(
    ("current", "offered"), [("high", "high"), ("high", "medium"), ("critical", "low")]
)
def test_same_or_lower_level_does_not_escalate(alert_factory, current: str, offered: str) -> None:
    assert escalate(alert_factory(current), offered, LATER, AlertEvidence()) is None


def test_resolved_alert_is_not_escalated(alert_factory) -> None:
    resolved = resolve(alert_factory(), LATER)
    assert escalate(resolved, "critical", LATER, AlertEvidence()) is None


def test_acknowledged_alert_escalates_on_a_higher_level(alert_factory) -> None:
    acked = acknowledge(alert_factory(), LATER, "op-1", "seen")
    escalated = escalate(acked, "high", LATER, AlertEvidence())
    assert escalated is not None
    assert (escalated.status, escalated.version) == ("escalated", 3)


def test_updated_at_never_moves_backwards(alert_factory) -> None:
    alert = alert_factory(updated_at=LATER)
    earlier = T0 - timedelta(hours=1)
    escalated = escalate(alert, "high", earlier, AlertEvidence())
    assert escalated is not None and escalated.updated_at == LATER
    assert acknowledge(alert, earlier, "op-1", "").updated_at == LATER
    assert resolve(alert, earlier).updated_at == LATER


def test_acknowledge_records_the_operator(alert_factory) -> None:
    acked = acknowledge(alert_factory(), LATER, "op-vilnius-7", "patrol sent")
    assert (acked.status, acked.version) == ("acknowledged", 2)
    assert (acked.operator_id, acked.operator_note) == ("op-vilnius-7", "patrol sent")
    assert acked.updated_at == LATER


def test_acknowledging_twice_is_refused(alert_factory) -> None:
    acked = acknowledge(alert_factory(), LATER, "op-1", "")
    with pytest.raises(InvalidTransition, match="already acknowledged"):
        acknowledge(acked, LATER, "op-2", "")


def test_resolved_alert_cannot_be_acknowledged(alert_factory) -> None:
    with pytest.raises(InvalidTransition, match="resolved"):
        acknowledge(resolve(alert_factory(), LATER), LATER, "op-1", "")


def test_resolve_closes_the_alert_and_keeps_evidence_by_default(alert_factory) -> None:
    alert = alert_factory()
    resolved = resolve(alert, LATER)
    assert (resolved.status, resolved.version) == ("resolved", 2)
    assert resolved.evidence == alert.evidence
    assert resolved.level == alert.level


def test_resolve_keeps_the_acknowledging_operator_unless_a_new_one_is_given(alert_factory) -> None:
    acked = acknowledge(alert_factory(), LATER, "op-1", "on it")
    assert resolve(acked, LATER).operator_id == "op-1"
    by_other = resolve(acked, LATER, operator_id="op-2", note="done")
    assert (by_other.operator_id, by_other.operator_note, by_other.version) == ("op-2", "done", 3)


def test_resolving_twice_is_refused(alert_factory) -> None:
    with pytest.raises(InvalidTransition, match="already resolved"):
        resolve(resolve(alert_factory(), LATER), LATER)


def test_annotate_adds_a_note_without_changing_the_status(alert_factory) -> None:
    from marchwarden.alerts.lifecycle import apply_command
    from marchwarden.contracts.commands import OperatorCommand

    alert = alert_factory()
    command = OperatorCommand(
        command_id="c-9",
        schema_version=3,
        command="annotate",
        alert_id=alert.alert_id,
        operator_id="op-3",
        note="drone sighted",
        issued_at=LATER,
        organisation="LT-VSAT",
    )
    annotated = apply_command(alert, command)
    assert (annotated.status, annotated.version) == (alert.status, alert.version + 1)
    assert (annotated.operator_note, annotated.operator_org, annotated.command_id) == (
        "drone sighted",
        "LT-VSAT",
        "c-9",
    )
    assert annotated.previous_status == annotated.status == "raised"
