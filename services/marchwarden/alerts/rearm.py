"""Resolve is not mute: when a condition an operator resolved by hand worsens or holds on."""

from __future__ import annotations

from dataclasses import dataclass

from marchwarden.contracts.common import LEVEL_RANK, Level


@dataclass(frozen=True, slots=True)
class ManualResolve:
    """An alert an operator resolved while its condition still held."""

    alert_id: str
    level: Level
    clock: float
    """The rule's clock (event time of the section) when it was resolved."""


@dataclass(frozen=True, slots=True)
class RearmDecision:
    """``rearm``: raise a new alert; ``hold``: stay quiet for now; ``clear``: condition over."""

    action: str
    reason: str = ""


def decide_rearm(
    resolved: ManualResolve, level: Level | None, clock: float, rearm_after_s: float
) -> RearmDecision:
    """After a manual resolve, the condition raises a new alert when it worsens past the level
    at resolve, or when it still holds ``rearm_after_s`` later; it is forgotten once it ends.
    """
    if level is None:
        return RearmDecision("clear")
    if LEVEL_RANK[level] > LEVEL_RANK[resolved.level]:
        return RearmDecision(
            "rearm",
            f"worsened to {level} after {resolved.alert_id} was resolved by hand at "
            f"{resolved.level}",
        )
    held_for = clock - resolved.clock
    if held_for >= rearm_after_s:
        return RearmDecision(
            "rearm",
            f"still at {level} {held_for / 3600:.1f} h after {resolved.alert_id} was resolved "
            f"by hand (re-arm period {rearm_after_s / 3600:g} h)",
        )
    return RearmDecision("hold")
