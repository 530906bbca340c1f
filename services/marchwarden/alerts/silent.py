"""Silence detection: a section whose messages stop for longer than its expected cadence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from marchwarden.alerts import lifecycle
from marchwarden.alerts.board import AlertBoard
from marchwarden.alerts.playbooks import advisory_recommendation
from marchwarden.contracts.alerts import AlertEvidence, AlertRule
from marchwarden.contracts.common import LEVEL_RANK, Level
from marchwarden.reference.models import ReferenceData
from marchwarden.settings import RuleSettings

SILENT: AlertRule = "section_silent"

HIGH_AFTER_CADENCES = 4.0
"""Silent for this many cadences: high (a post out of touch for hours, not minutes)."""


@dataclass(frozen=True, slots=True)
class SilentSection:
    """How long a section has been silent and what that means."""

    level: Level | None
    silent_for_s: float
    cadence_s: float
    explanation: str


def assess_silence(last_message: float, clock: float, cadence_s: float) -> SilentSection:
    """``last_message``: event time of the section's latest report or heartbeat; ``clock``:
    the section's clock now. Silent past the cadence: medium; past 4 cadences: high."""
    silent_for = max(0.0, clock - last_message)
    if silent_for <= cadence_s:
        return SilentSection(None, silent_for, cadence_s, "")
    level: Level = "high" if silent_for > HIGH_AFTER_CADENCES * cadence_s else "medium"
    return SilentSection(
        level,
        silent_for,
        cadence_s,
        f"no report or sensor heartbeat for {silent_for / 60:.0f} min, longer than the "
        f"section's expected cadence of {cadence_s / 60:.0f} min: {level}",
    )


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(round(epoch, 3), UTC)


class SilentRule:
    """The section_silent rule: raised when a section's reports stop, resolved when they resume."""

    def __init__(self, reference: ReferenceData, rules: RuleSettings, board: AlertBoard) -> None:
        self.reference = reference
        self.board = board
        self.cadence_s = {
            s.id: s.expected_cadence_minutes * 60.0 * rules.silence_cadence_scale
            for s in reference.sections
        }

    def evaluate(self, section: str, watermark: float, last: float | None) -> None:
        """section_silent: no report or heartbeat for longer than the section's cadence."""
        if last is None:
            return  # never heard from: nothing to miss yet
        cadence = self.cadence_s[section]
        state = assess_silence(last, watermark, cadence)
        current = self.board.current(SILENT, section)
        at = _utc(watermark)
        evidence = AlertEvidence(
            last_report_at=_utc(last),
            silent_for_s=round(state.silent_for_s, 1),
            expected_cadence_s=cadence,
            sections=[section],
            explanation=[state.explanation] if state.explanation else [],
        )
        if state.level is None:
            self.board.gate(SILENT, section, None, watermark, at)
            if current is not None:
                evidence = evidence.model_copy(
                    update={"explanation": ["resolved: the section reports again"]}
                )
                self.board.publish(lifecycle.resolve(current, _utc(last), evidence))
            return
        if current is None:
            gate = self.board.gate(SILENT, section, state.level, watermark, at)
            if gate.open:
                playbook = self.reference.playbook_for_rule(SILENT)
                self.board.raise_alert(
                    SILENT,
                    section,
                    state.level,
                    _utc(last + cadence),
                    evidence,
                    advisory_recommendation(playbook, [section]),
                    gate,
                )
        elif LEVEL_RANK[state.level] > LEVEL_RANK[current.level]:
            self.board.publish(
                lifecycle.revise(current, state.level, at, evidence, current.recommendation)
            )
