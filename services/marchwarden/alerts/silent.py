"""Silence detection: a section whose messages stop for longer than its expected cadence."""

from __future__ import annotations

from dataclasses import dataclass

from marchwarden.contracts.common import Level

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
