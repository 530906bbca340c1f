"""Alert lifecycle: raise, escalate, acknowledge and resolve, as pure state transitions."""

from __future__ import annotations

from datetime import datetime

from marchwarden.contracts.alerts import AlertEvidence, AlertRule, AlertState, Recommendation
from marchwarden.contracts.common import LEVEL_RANK, Level


class InvalidTransition(ValueError):
    """An operator command that does not apply to the alert's current status."""


def alert_id_for(rule: AlertRule, section_id: str, episode: int) -> str:
    """Deterministic per rule x section x episode, readable, and routable by section."""
    return f"{rule}.{section_id}.{episode}"


def section_of_alert_id(alert_id: str) -> str | None:
    parts = alert_id.split(".")
    return parts[1] if len(parts) == 3 else None


def raise_alert(
    rule: AlertRule,
    section_id: str,
    episode: int,
    level: Level,
    at: datetime,
    evidence: AlertEvidence,
    recommendation: Recommendation | None = None,
) -> AlertState:
    return AlertState(
        alert_id=alert_id_for(rule, section_id, episode),
        rule=rule,
        level=level,
        status="raised",
        section_id=section_id,
        raised_at=at,
        updated_at=at,
        version=1,
        evidence=evidence,
        recommendation=recommendation,
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
        }
    )


def resolve(
    alert: AlertState,
    at: datetime,
    evidence: AlertEvidence | None = None,
    operator_id: str | None = None,
    note: str | None = None,
) -> AlertState:
    if alert.status == "resolved":
        raise InvalidTransition(f"alert {alert.alert_id} is already resolved")
    return alert.model_copy(
        update={
            "status": "resolved",
            "updated_at": max(at, alert.updated_at),
            "version": alert.version + 1,
            "evidence": evidence or alert.evidence,
            "operator_id": operator_id if operator_id is not None else alert.operator_id,
            "operator_note": note if note is not None else alert.operator_note,
        }
    )


def acknowledge(alert: AlertState, at: datetime, operator_id: str, note: str) -> AlertState:
    if alert.status == "resolved":
        raise InvalidTransition(f"alert {alert.alert_id} is resolved; it cannot be acknowledged")
    if alert.status == "acknowledged":
        raise InvalidTransition(f"alert {alert.alert_id} is already acknowledged")
    return alert.model_copy(
        update={
            "status": "acknowledged",
            "updated_at": max(at, alert.updated_at),
            "version": alert.version + 1,
            "operator_id": operator_id,
            "operator_note": note,
        }
    )
