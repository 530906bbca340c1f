"""The alert board: every alert a worker knows, its episodes, manual resolves awaiting re-arm,
the silences in force, and every state change published exactly once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from marchwarden.alerts import lifecycle
from marchwarden.alerts.rearm import ManualResolve, decide_rearm
from marchwarden.alerts.silences import Silence, SilenceBook
from marchwarden.contracts.alerts import AlertEvidence, AlertRule, AlertState, Recommendation
from marchwarden.contracts.commands import OperatorCommand
from marchwarden.contracts.common import Level
from marchwarden.reference.models import ReferenceData

RESOLVED_ALERTS_KEPT = 10_000
UNKNOWN_RESOLVER = "unknown (schema v1)"


def resolved_by_operator(alert: AlertState) -> bool:
    """Whether an operator (not the alert's rule) resolved it."""
    return (
        alert.status == "resolved"
        and bool(alert.changed_by)
        and not alert.changed_by.startswith("rule:")
        and alert.changed_by != UNKNOWN_RESOLVER
    )


@dataclass(frozen=True, slots=True)
class Gate:
    """May a rule raise an alert now? If it re-arms, the resolved alert it follows and why."""

    open: bool
    previous: ManualResolve | None = None
    reason: str = ""
    silence: Silence | None = None


@dataclass
class AlertBoard:
    """Alerts by rule x section (one open at a time) and by id; changes go to ``published``."""

    reference: ReferenceData
    rearm_after_s: float
    open: dict[tuple[str, str], AlertState] = field(default_factory=dict)
    by_id: dict[str, AlertState] = field(default_factory=dict)
    episodes: dict[tuple[str, str], int] = field(default_factory=dict)
    manual: dict[tuple[str, str], ManualResolve] = field(default_factory=dict)
    silences: SilenceBook = field(default_factory=SilenceBook)
    published: list[AlertState] = field(default_factory=list)

    def current(self, rule: str, section: str) -> AlertState | None:
        return self.open.get((rule, section))

    def gate(
        self, rule: str, section: str, level: Level | None, clock: float, at: datetime
    ) -> Gate:
        """Whether the rule may raise a new alert for ``level`` on the section now.

        After a manual resolve the rule stays quiet while the condition holds at or below the
        level at resolve, for the re-arm period; worse, or longer, raises a new alert that
        points to the resolved one. A silence in scope keeps it quiet until it expires.
        """
        key = (rule, section)
        previous = self.manual.get(key)
        reason = ""
        if previous is not None:
            decision = decide_rearm(previous, level, clock, self.rearm_after_s)
            if decision.action == "clear":
                del self.manual[key]
                previous = None
            elif decision.action == "hold":
                return Gate(False)
            else:
                reason = decision.reason
        if level is None:
            return Gate(False)
        silence = self.silences.active(section, rule, at)
        if silence is not None:
            return Gate(False, previous, reason, silence)
        return Gate(True, previous, reason)

    def raise_alert(
        self,
        rule: AlertRule,
        section: str,
        level: Level,
        at: datetime,
        evidence: AlertEvidence,
        recommendation: Recommendation | None = None,
        gate: Gate | None = None,
    ) -> AlertState:
        """A new alert (next episode); a re-armed one names the resolved alert it follows."""
        key = (rule, section)
        episode = self.episodes.get(key, 0) + 1
        self.episodes[key] = episode
        if gate is not None and gate.previous is not None:
            previous = gate.previous
            evidence = evidence.model_copy(
                update={
                    "previous_alert_id": previous.alert_id,
                    "previous_alert_level": previous.level,
                    "explanation": [*evidence.explanation, f"re-armed: {gate.reason}"],
                }
            )
            self.manual.pop(key, None)
        playbook = self.reference.playbook_for_rule(rule).id
        alert = lifecycle.raise_alert(
            rule, section, episode, level, at, evidence, recommendation, playbook=playbook
        )
        self.publish(alert)
        return alert

    def resolve_by_hand(
        self, alert: AlertState, command: OperatorCommand, clock: float
    ) -> AlertState:
        """An operator closes the alert; the rule re-arms if its condition worsens or holds."""
        resolved = lifecycle.apply_command(alert, command)
        self.manual[(alert.rule, alert.section_id)] = ManualResolve(
            alert.alert_id, alert.level, clock
        )
        self.publish(resolved)
        return resolved

    def publish(self, alert: AlertState) -> None:
        key = (alert.rule, alert.section_id)
        self.by_id[alert.alert_id] = alert
        if alert.status == "resolved":
            if self.open.get(key, alert).alert_id == alert.alert_id:
                self.open.pop(key, None)
            if len(self.by_id) > RESOLVED_ALERTS_KEPT:
                resolved = [a.alert_id for a in self.by_id.values() if a.status == "resolved"]
                for alert_id in resolved[: len(self.by_id) - RESOLVED_ALERTS_KEPT]:
                    del self.by_id[alert_id]
        else:
            self.open[key] = alert
        self.published.append(alert)

    def drain(self) -> list[AlertState]:
        out, self.published = self.published, []
        return out

    def restore(self, alert: AlertState) -> None:
        """Know an alert again after a restart (its latest state, oldest first)."""
        key = (alert.rule, alert.section_id)
        episode = int(alert.alert_id.rsplit(".", 1)[-1])
        self.episodes[key] = max(self.episodes.get(key, 0), episode)
        self.by_id[alert.alert_id] = alert
        if alert.status != "resolved":
            self.open[key] = alert
            self.manual.pop(key, None)
        elif resolved_by_operator(alert):
            self.manual[key] = ManualResolve(
                alert.alert_id, alert.level, alert.updated_at.timestamp()
            )
