"""Deliberate muting: silences with a scope (section, optional rule), an expiry and a reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Silence:
    """No new alert of ``rule`` (every rule if None) on ``section_id`` until ``until``."""

    section_id: str
    rule: str | None
    until: datetime
    reason: str
    operator_id: str
    command_id: str
    issued_at: datetime

    def covers(self, section_id: str, rule: str) -> bool:
        return self.section_id == section_id and self.rule in (None, rule)

    def as_dict(self) -> dict[str, Any]:
        return {
            "section_id": self.section_id,
            "rule": self.rule,
            "until": self.until.isoformat(),
            "reason": self.reason,
            "operator_id": self.operator_id,
            "command_id": self.command_id,
            "issued_at": self.issued_at.isoformat(),
        }


@dataclass
class SilenceBook:
    """The silences in force, one per scope (a new silence of the same scope replaces it)."""

    silences: dict[tuple[str, str | None], Silence] = field(default_factory=dict)

    def add(self, silence: Silence) -> None:
        self.silences[(silence.section_id, silence.rule)] = silence

    def remove(self, section_id: str, rule: str | None) -> Silence | None:
        return self.silences.pop((section_id, rule), None)

    def active(self, section_id: str, rule: str, now: datetime) -> Silence | None:
        """The silence muting ``rule`` on the section at ``now`` (section clock), if any."""
        for key in ((section_id, rule), (section_id, None)):
            silence = self.silences.get(key)
            if silence is not None and silence.until > now:
                return silence
        return None

    def of_section(self, section_id: str, now: datetime) -> list[Silence]:
        return sorted(
            (s for s in self.silences.values() if s.section_id == section_id and s.until > now),
            key=lambda s: (s.rule or "", s.until),
        )

    def expire(self, section_id: str, now: datetime) -> list[Silence]:
        """Forget the section's silences that have run out; returns them."""
        gone = [
            s for k, s in self.silences.items() if s.section_id == section_id and s.until <= now
        ]
        for s in gone:
            del self.silences[(s.section_id, s.rule)]
        return gone
