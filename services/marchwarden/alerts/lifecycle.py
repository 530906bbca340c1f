"""Alert lifecycle: raise, escalate, acknowledge, annotate and resolve, as pure transitions.

Every transition says who made it (`changed_by`: `rule:<rule>` or an operator), from which
state, and why, so each published state is also one record of the audit trail. Reasons of
automatic transitions never name indicators: they reach readers who may not see them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marchwarden.contracts.alerts import (
    AlertEvidence,
    AlertRule,
    AlertState,
    Recommendation,
    strictest_tlp,
)
from marchwarden.contracts.commands import OperatorCommand
from marchwarden.contracts.common import LEVEL_RANK, Level


class InvalidTransition(ValueError):
    """An operator command that does not apply to the alert's current status."""


def alert_id_for(rule: AlertRule, section_id: str, episode: int) -> str:
    """Deterministic per rule x section x episode, readable, and routable by section."""
    return f"{rule}.{section_id}.{episode}"


def section_of_alert_id(alert_id: str) -> str | None:
    parts = alert_id.split(".")
    return parts[1] if len(parts) == 3 else None


def _by_rule(alert: AlertState, reason: str) -> dict[str, Any]:
    return {
        "changed_by": f"rule:{alert.rule}",
        "changed_by_org": None,
        "command_id": None,
        "reason": reason,
        "previous_status": alert.status,
        "previous_level": alert.level,
    }


def _by_operator(alert: AlertState, command: OperatorCommand) -> dict[str, Any]:
    return {
        "changed_by": command.operator_id,
        "changed_by_org": command.organisation,
        "command_id": command.command_id,
        "reason": f"{command.command} command",
        "previous_status": alert.status,
        "previous_level": alert.level,
        "operator_id": command.operator_id,
        "operator_org": command.organisation,
        "operator_note": command.note,
    }


def raise_alert(
    rule: AlertRule,
    section_id: str,
    episode: int,
    level: Level,
    at: datetime,
    evidence: AlertEvidence,
    recommendation: Recommendation | None = None,
    *,
    playbook: str,
) -> AlertState:
    return AlertState(
        alert_id=alert_id_for(rule, section_id, episode),
        rule=rule,
        playbook=playbook,
        level=level,
        status="raised",
        section_id=section_id,
        raised_at=at,
        updated_at=at,
        version=1,
        evidence=evidence,
        recommendation=recommendation,
        changed_by=f"rule:{rule}",
        reason=f"rule condition met at level {level}",
        tlp=strictest_tlp(evidence.sources),
    )


def escalate(
    alert: AlertState,
    level: Level,
    at: datetime,
    evidence: AlertEvidence,
    recommendation: Recommendation | None = None,
) -> AlertState | None:
    """A higher level escalates the open alert; the same or lower level changes nothing."""
    if alert.status == "resolved" or LEVEL_RANK[level] <= LEVEL_RANK[alert.level]:
        return None
    return alert.model_copy(
        update={
            "level": level,
            "status": "escalated",
            "updated_at": max(at, alert.updated_at),
            "version": alert.version + 1,
            "evidence": evidence,
            "recommendation": recommendation or alert.recommendation,
            "tlp": strictest_tlp(evidence.sources),
            **_by_rule(alert, f"level rose from {alert.level} to {level}"),
        }
    )


def resolve(
    alert: AlertState,
    at: datetime,
    evidence: AlertEvidence | None = None,
    operator_id: str | None = None,
    note: str | None = None,
) -> AlertState:
    """Resolve by rule (no operator) or for an operator (see `apply_command` for commands).

    An automatic resolve is the rule's: `changed_by` names the rule even when an operator
    acknowledged the alert before; `operator_id` keeps the operator of the last command.
    """
    if alert.status == "resolved":
        raise InvalidTransition(f"alert {alert.alert_id} is already resolved")
    evidence = evidence or alert.evidence
    if operator_id is None:
        who = _by_rule(alert, "rule condition cleared")
    else:
        who = {
            **_by_rule(alert, "resolve command"),
            "changed_by": operator_id,
            "operator_id": operator_id,
            "operator_note": note if note is not None else alert.operator_note,
        }
    return alert.model_copy(
        update={
            "status": "resolved",
            "updated_at": max(at, alert.updated_at),
            "version": alert.version + 1,
            "evidence": evidence,
            "tlp": strictest_tlp(evidence.sources),
            **who,
        }
    )


def acknowledge(alert: AlertState, at: datetime, operator_id: str, note: str) -> AlertState:
    if alert.status == "resolved":
        raise InvalidTransition(f"alert {alert.alert_id} is resolved; it cannot be acknowledged")
    if alert.status == "acknowledged":
        raise InvalidTransition(f"alert {alert.alert_id} is already acknowledged")
    return alert.model_copy(
        update={
            **_by_rule(alert, "acknowledge command"),
            "status": "acknowledged",
            "updated_at": max(at, alert.updated_at),
            "version": alert.version + 1,
            "changed_by": operator_id,
            "operator_id": operator_id,
            "operator_note": note,
        }
    )


def apply_command(alert: AlertState, command: OperatorCommand) -> AlertState:
    """The state an operator command makes; time never goes back before the last update."""
    at = max(command.issued_at, alert.updated_at)
    if command.command == "acknowledge":
        new = acknowledge(alert, at, command.operator_id, command.note)
    elif command.command == "resolve":
        new = resolve(alert, at, operator_id=command.operator_id, note=command.note)
    else:
        new = alert.model_copy(update={"updated_at": at, "version": alert.version + 1})
    return new.model_copy(update=_by_operator(alert, command))


def revise(
    alert: AlertState,
    level: Level,
    at: datetime,
    evidence: AlertEvidence,
    recommendation: Recommendation | None,
    reason: str = "plan changed",
) -> AlertState:
    """A new version of an open alert whose level, basis or plan changed (by its rule).

    A higher level escalates it; a lower one (a cleared critical indicator, say) lowers it and
    keeps its status; the recommendation says what changed.
    """
    if alert.status == "resolved":
        raise InvalidTransition(f"alert {alert.alert_id} is resolved; it cannot be revised")
    up = LEVEL_RANK[level] > LEVEL_RANK[alert.level]
    if level != alert.level:
        reason = f"level {'rose' if up else 'fell'} from {alert.level} to {level}"
    return alert.model_copy(
        update={
            **_by_rule(alert, reason),
            "level": level,
            "status": "escalated" if up else alert.status,
            "updated_at": max(at, alert.updated_at),
            "version": alert.version + 1,
            "evidence": evidence,
            "recommendation": recommendation,
            "tlp": strictest_tlp(evidence.sources),
        }
    )


def amend_resolved(
    alert: AlertState, at: datetime, recommendation: Recommendation | None, reason: str
) -> AlertState:
    """A new version of a resolved alert whose plan changed (the equipment it held released)."""
    if alert.status != "resolved":
        raise InvalidTransition(f"alert {alert.alert_id} is not resolved")
    return alert.model_copy(
        update={
            **_by_rule(alert, reason),
            "updated_at": max(at, alert.updated_at),
            "version": alert.version + 1,
            "recommendation": recommendation,
        }
    )
