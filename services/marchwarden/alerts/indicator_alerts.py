"""The indicator rules: per section and playbook, raise, revise and resolve their alerts.

Counter-mobility plans are claims on the closure book (one plan per artery); border-guard
reinforcement and the advisories are recommendations built from the playbook. Every change of
the demand (level, sections, indicators) or of a shared plan is a new alert version that says
what changed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime

from marchwarden.alerts import lifecycle
from marchwarden.alerts.board import AlertBoard, Gate
from marchwarden.alerts.closures import ClosureBook
from marchwarden.alerts.equipment import ZERO, counts_of
from marchwarden.alerts.indicator_rules import Demand, basis_changes, indicator_demands
from marchwarden.alerts.playbooks import advisory_recommendation, reinforcement_recommendation
from marchwarden.contracts.alerts import AlertEvidence, AlertState, KeepOpenRoad, Recommendation
from marchwarden.picture.indicators import IndicatorState
from marchwarden.reference.models import ReferenceData
from marchwarden.settings import RuleSettings

MOVE_EQUIPMENT = "move_equipment_to_arteries"
REINFORCE = "reinforce_section"


class IndicatorAlerts:
    """Alerts of the indicator rules, on the shared board and closure book."""

    def __init__(
        self,
        reference: ReferenceData,
        rules: RuleSettings,
        board: AlertBoard,
        closures: ClosureBook,
    ) -> None:
        self.reference = reference
        self.rules = rules
        self.board = board
        self.closures = closures
        self.indicator_rules = sorted(
            p.indicator_rule for p in reference.playbooks if p.indicator_rule is not None
        )

    # ------------------------------------------------------------------ evaluation
    def evaluate(
        self,
        section: str,
        clock: float,
        indicators: Mapping[str, IndicatorState],
        quiet: Collection[str],
    ) -> None:
        """Run every indicator rule for the section at its clock (event time)."""
        now = datetime.fromtimestamp(round(clock, 3), UTC)
        demands = indicator_demands(indicators.values(), section, now, self.reference)
        for rule in self.indicator_rules:
            demand = demands.get(rule)
            current = self.board.current(rule, section)
            if demand is None:
                self.board.gate(rule, section, None, clock, now)  # the condition is over
                if current is not None:
                    self._end(current, self._ended_at(current, indicators, now))
                self._release_holders(rule, section, now, "its indicators cleared")
            elif current is None:
                gate = self.board.gate(rule, section, demand.level, clock, now)
                if gate.open:
                    self._raise(rule, section, demand, gate, quiet)
            else:
                self._revise(current, demand, quiet)

    def _raise(
        self, rule: str, section: str, demand: Demand, gate: Gate, quiet: Collection[str]
    ) -> None:
        episode = self.board.episodes.get((rule, section), 0) + 1
        alert_id = lifecycle.alert_id_for(rule, section, episode)  # type: ignore[arg-type]
        changed: set[str] = set()
        if rule == MOVE_EQUIPMENT:
            if gate.previous is not None:
                self._hand_over(gate.previous.alert_id, alert_id, demand.cause_at)
            changed = self.closures.claim(alert_id, self._arteries(demand), demand.level)
        recommendation = self._recommendation(rule, section, demand, alert_id, quiet, 1, [])
        self.board.raise_alert(
            rule,  # type: ignore[arg-type]
            section,
            demand.level,
            demand.cause_at,
            self._evidence(demand),
            recommendation,
            gate,
        )
        self._republish(changed, {alert_id}, demand.cause_at)

    def _revise(self, current: AlertState, demand: Demand, quiet: Collection[str]) -> None:
        changes = basis_changes(
            current.level, current.evidence.sections, current.evidence.indicator_ids, demand
        )
        changed: set[str] = set()
        if current.rule == MOVE_EQUIPMENT:
            changed = self.closures.claim(current.alert_id, self._arteries(demand), demand.level)
            changes += [line for a in sorted(changed) for line in self.closures.changes[a]]
        if not changes:
            return
        old = current.recommendation
        version = (old.plan_version if old else 0) + 1
        recommendation = self._recommendation(
            current.rule, current.section_id, demand, current.alert_id, quiet, version, changes
        )
        revised = lifecycle.revise(
            current, demand.level, demand.cause_at, self._evidence(demand), recommendation
        )
        self.board.publish(revised)
        self._republish(changed, {current.alert_id}, demand.cause_at)

    def _end(self, alert: AlertState, at: datetime) -> None:
        """The cause is over: resolve the alert and give back what it held."""
        changed = self.closures.release(alert.alert_id)
        recommendation = alert.recommendation
        if recommendation is not None and alert.rule == MOVE_EQUIPMENT:
            recommendation = recommendation.model_copy(
                update={
                    "plan_version": recommendation.plan_version + 1,
                    "changes": [
                        "equipment released: the indicators cleared",
                        *(line for a in sorted(changed) for line in self.closures.changes[a]),
                    ],
                }
            )
        evidence = alert.evidence.model_copy(
            update={
                "indicator_ids": [],
                "explanation": [*alert.evidence.explanation, "resolved: the indicators cleared"],
            }
        )
        resolved = lifecycle.resolve(alert, at, evidence).model_copy(
            update={"recommendation": recommendation}
        )
        self.board.publish(resolved)
        self._republish(changed, {alert.alert_id}, at)

    # ------------------------------------------------------------------ held stock
    def holders(self, rule: str, section: str) -> list[str]:
        """Alerts of rule x section resolved by hand that still hold equipment."""
        prefix = f"{rule}.{section}."
        return sorted(
            alert_id
            for alert_id in self.closures.claimants(list(self.closures.closures))
            if alert_id.startswith(prefix)
            and (a := self.board.by_id.get(alert_id)) is not None
            and a.status == "resolved"
        )

    def stand_down(self, alert: AlertState, at: datetime, operator_id: str, note: str) -> None:
        """Release what a resolved alert still holds (the `stand_down` command)."""
        if alert.status != "resolved":
            raise lifecycle.InvalidTransition(
                f"alert {alert.alert_id} is {alert.status}: resolve it before standing down"
            )
        if not self.closures.claimed_by(alert.alert_id):
            raise lifecycle.InvalidTransition(f"alert {alert.alert_id} holds no equipment")
        reason = f"stand down by {operator_id}" + (f": {note}" if note else "")
        self._release(alert, at, reason)

    def _release_holders(self, rule: str, section: str, at: datetime, reason: str) -> None:
        for alert_id in self.holders(rule, section):
            self._release(self.board.by_id[alert_id], at, reason)

    def _release(self, alert: AlertState, at: datetime, reason: str) -> None:
        changed = self.closures.release(alert.alert_id)
        old = alert.recommendation
        recommendation = None
        if old is not None:
            recommendation = old.model_copy(
                update={
                    "arteries": [],
                    "plan_version": old.plan_version + 1,
                    "changes": [
                        f"equipment released: {reason}",
                        *(line for a in sorted(changed) for line in self.closures.changes[a]),
                    ],
                }
            )
        self.board.publish(
            lifecycle.amend_resolved(alert, at, recommendation, f"equipment released: {reason}")
        )
        self._republish(changed, {alert.alert_id}, at)

    def _hand_over(self, old_id: str, new_id: str, at: datetime) -> None:
        """A re-armed alert takes over what the resolved one held."""
        old = self.board.by_id.get(old_id)
        if old is None or not self.closures.claimed_by(old_id):
            return
        self.closures.transfer(old_id, new_id)
        rec = old.recommendation
        if rec is not None:
            rec = rec.model_copy(
                update={
                    "arteries": [],
                    "plan_version": rec.plan_version + 1,
                    "changes": [f"equipment handed over to {new_id}"],
                }
            )
        self.board.publish(
            lifecycle.amend_resolved(old, at, rec, f"equipment handed over to {new_id}")
        )

    def _republish(self, arteries: set[str], exclude: set[str], at: datetime) -> None:
        """Every other alert sharing a changed artery plan gets a new version showing it."""
        for alert_id in sorted(self.closures.claimants(arteries) - exclude):
            alert = self.board.by_id.get(alert_id)
            if alert is None or alert.recommendation is None:
                continue
            mine = set(self.closures.claimed_by(alert_id)) & arteries
            rec = alert.recommendation.model_copy(
                update={
                    "arteries": [self.closures.plan(a) for a in self.closures.claimed_by(alert_id)],
                    "plan_version": alert.recommendation.plan_version + 1,
                    "changes": [line for a in sorted(mine) for line in self.closures.changes[a]],
                }
            )
            rec = rec.model_copy(
                update={"summary": self._block_summary(rec, alert.evidence.sections)}
            )
            if alert.status == "resolved":
                self.board.publish(lifecycle.amend_resolved(alert, at, rec, "shared plan changed"))
            else:
                self.board.publish(
                    lifecycle.revise(
                        alert, alert.level, at, alert.evidence, rec, "shared plan changed"
                    )
                )

    # ------------------------------------------------------------------ building
    def _arteries(self, demand: Demand) -> list[str]:
        return sorted({a.id for s in demand.sections for a in self.reference.arteries_serving(s)})

    def _evidence(self, demand: Demand) -> AlertEvidence:
        return AlertEvidence(
            indicator_ids=list(demand.indicator_ids),
            event_ids=list(demand.event_ids),
            sources=list(demand.sources),
            categories=list(demand.categories),
            sections=list(demand.sections),
            explanation=list(demand.explanation),
        )

    def _recommendation(
        self,
        rule: str,
        section: str,
        demand: Demand,
        alert_id: str,
        quiet: Collection[str],
        plan_version: int,
        changes: list[str],
    ) -> Recommendation:
        playbook = demand.playbook
        if rule == MOVE_EQUIPMENT:
            keep_open = {
                a.id: a
                for s in demand.sections
                for a in self.reference.arteries_serving(s, keep_open=True)
            }
            rec = Recommendation(
                summary="",
                actions=list(playbook.actions),
                road_speed_kmh=self.rules.road_speed_kmh,
                arteries=[self.closures.plan(a) for a in self.closures.claimed_by(alert_id)],
                keep_open=[
                    KeepOpenRoad(
                        artery_id=a.id, artery_name=a.name, reason=a.keep_open_reason or ""
                    )
                    for a in (keep_open[k] for k in sorted(keep_open))
                ],
            )
            rec = rec.model_copy(update={"summary": self._block_summary(rec, demand.sections)})
        elif rule == REINFORCE:
            rec = reinforcement_recommendation(
                self.reference, playbook, section, demand.level, quiet
            )
        else:
            rec = advisory_recommendation(playbook, demand.sections)
        return rec.model_copy(update={"plan_version": plan_version, "changes": changes})

    @staticmethod
    def _block_summary(rec: Recommendation, sections: list[str] | tuple[str, ...]) -> str:
        names = ", ".join(p.artery_id for p in rec.arteries)
        summary = f"Block {len(rec.arteries)} arteries toward {', '.join(sections)} ({names})"
        short = [p.artery_id for p in rec.arteries if counts_of(p.shortfall) != ZERO]
        if short:
            summary += f"; stock short for {', '.join(short)}"
        if rec.keep_open:
            summary += f"; keep open {', '.join(k.artery_id for k in rec.keep_open)}"
        return summary

    @staticmethod
    def _ended_at(
        alert: AlertState, indicators: Mapping[str, IndicatorState], now: datetime
    ) -> datetime:
        """When the last of the alert's indicators was cleared or expired (event time)."""
        ends = []
        for indicator_id in alert.evidence.indicator_ids:
            ind = indicators.get(indicator_id)
            if ind is None:
                continue
            if ind.state == "expired" and ind.valid_until is not None:
                ends.append(ind.valid_until)
            elif ind.state == "cleared":
                ends.append(ind.updated_at)
            else:
                # Still lit but no longer calling this rule (its level dropped): now.
                ends.append(now)
        return min(now, max(ends)).astimezone(UTC) if ends else now
