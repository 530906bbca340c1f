"""Alert states published on ops.alerts: each message is the alert's full current state.

Version 2 carries who changed the alert and why (`changed_by`, `reason`, `command_id`, the
previous status and level, for the audit trail), and the TLP marking of every indicator
behind it (`evidence.sources`), so each exit can show a reader only what they may see.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from marchwarden.contracts.common import TLP_RANK, Contract, Level, Tlp

AlertLevel = Level
AlertStatus = Literal["raised", "escalated", "acknowledged", "resolved"]
AlertRule = Literal["surge", "move_equipment_to_arteries"]
NonNegative = Annotated[int, Field(ge=0)]


class Equipment(Contract):
    """Counter-mobility equipment counts, by type."""

    dragons_teeth: NonNegative = 0
    hedgehogs: NonNegative = 0
    spanish_riders: NonNegative = 0
    roadblocks: NonNegative = 0


class ParkDraw(Contract):
    """Equipment to take from one counter-mobility park to one artery."""

    park_id: str
    park_name: str
    distance_km: float
    travel_minutes: float
    equipment: Equipment


class ArteryPlan(Contract):
    """One artery to block and the parks to draw from, nearest first."""

    artery_id: str
    artery_name: str
    required: Equipment
    draws: list[ParkDraw]
    shortfall: Equipment


class Recommendation(Contract):
    """What to do: for move_equipment_to_arteries, the arteries to block and how."""

    summary: str
    road_speed_kmh: float
    arteries: list[ArteryPlan] = []


class SourceRef(Contract):
    """One indicator behind an alert, with the marking that decides who may see it."""

    indicator_id: str
    event_id: str
    category: str
    level: Level
    tlp: Tlp
    originator: str = Field(description="The organisation that reported the indicator")
    share_with: list[str] = Field(
        default_factory=list, description="TLP:AMBER: organisations besides the originator"
    )


def strictest_tlp(sources: list[SourceRef]) -> Tlp:
    """The alert's marking: its most restricted source (GREEN when it has none)."""
    marks: list[Tlp] = ["green", *(s.tlp for s in sources)]
    return max(marks, key=TLP_RANK.__getitem__)


class AlertEvidence(Contract):
    """Why the alert is in its state: counts, baseline, indicators, causing events."""

    attempts_last_hour: int | None = None
    threshold: float | None = None
    baseline_hourly: float | None = None
    surge_ratio: float | None = None
    indicator_ids: list[str] = []
    event_ids: list[str] = Field(default_factory=list, description="The most recent causing events")
    sources: list[SourceRef] = Field(
        default_factory=list, description="The indicators behind the alert, with their TLP"
    )


class AlertState(Contract):
    """Full state of one alert; alert_id is deterministic per rule x section x episode."""

    alert_id: str
    schema_version: Literal[2] = 2
    rule: AlertRule
    level: AlertLevel
    status: AlertStatus
    section_id: str
    raised_at: AwareDatetime
    updated_at: AwareDatetime
    version: Annotated[int, Field(ge=1, description="Increases with every state change")]
    evidence: AlertEvidence
    recommendation: Recommendation | None = None
    operator_id: str | None = Field(None, description="The operator of the last command")
    operator_note: str | None = None
    operator_org: str | None = Field(None, description="The organisation of operator_id")
    changed_by: str = Field(
        "", description="Who made this state: `rule:<rule>` or the operator's id"
    )
    changed_by_org: str | None = None
    reason: str = ""
    command_id: str | None = Field(None, description="The command that made this state")
    previous_status: AlertStatus | None = None
    previous_level: AlertLevel | None = None
    tlp: Tlp = Field("green", description="The most restricted marking among the sources")
    withheld_sources: Annotated[int, Field(ge=0)] = Field(
        0, description="In a copy for one reader: sources not shown to them"
    )
