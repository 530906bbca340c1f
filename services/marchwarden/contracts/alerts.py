"""Alert states published on ops.alerts: each message is the alert's full current state.

Version 2 carries who changed the alert and why (`changed_by`, `reason`, `command_id`, the
previous status and level, for the audit trail), and the TLP marking of every indicator
behind it (`evidence.sources`), so each exit can show a reader only what they may see.

Version 3 adds the playbook every alert names, the rules beyond surge and counter-mobility,
the blocking point and road legs of each park draw, plans versioned with what changed, roads
to keep open, border-guard reinforcement, and evidence for surges on people, re-armed alerts
and silent sections (`upcasting.alert_v2_to_v3` brings version 2 states up).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from marchwarden.contracts.common import TLP_RANK, Contract, Level, Tlp
from marchwarden.reference.equipment import Equipment

AlertLevel = Level
AlertStatus = Literal["raised", "escalated", "acknowledged", "resolved"]
AlertRule = Literal[
    "surge",
    "move_equipment_to_arteries",
    "reinforce_section",
    "gnss_jamming_advisory",
    "airspace_violation_advisory",
    "infrastructure_sabotage_advisory",
    "intelligence_advisory",
    "section_silent",
]
ALERT_RULES: tuple[str, ...] = AlertRule.__args__  # type: ignore[attr-defined]
NonNegative = Annotated[int, Field(ge=0)]


class Position(Contract):
    """A WGS84 position in degrees."""

    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]


class ParkDraw(Contract):
    """Equipment to take from one counter-mobility park to one artery's blocking point."""

    park_id: str
    park_name: str
    distance_km: float = Field(description="Road distance: (access + along) x road factor")
    travel_minutes: float = Field(description="Loading time plus the drive at convoy speed")
    equipment: Equipment
    access_km: float | None = Field(None, description="Park to the nearest point of the artery")
    along_artery_km: float | None = Field(None, description="From there to the blocking point")


class ArteryPlan(Contract):
    """One artery to block at its blocking point and the parks to draw from, earliest first.

    The closure belongs to the artery: every open alert that needs it shares one plan
    (``needed_by``), and its reservations are counted once.
    """

    artery_id: str
    artery_name: str
    required: Equipment
    draws: list[ParkDraw]
    shortfall: Equipment
    blocking_point: Position | None = None
    needed_by: list[str] = Field(default_factory=list, description="Alert ids sharing the plan")
    plan_version: Annotated[int, Field(ge=1)] = 1


class KeepOpenRoad(Contract):
    """A road toward the section that must not be closed, and why."""

    artery_id: str
    artery_name: str
    reason: str


class OfficerSource(Contract):
    """Border guards for a reinforcement: the own agency's reserve, or a request to a neighbour."""

    agency: str
    country: str
    officers: NonNegative
    request: bool = Field(description="True: a request to a neighbouring country's border guard")
    from_sections: list[str] = Field(
        default_factory=list, description="Quiet sections the officers can be drawn from"
    )


class Reinforcement(Contract):
    """How many border guards the section needs and where they come from."""

    officers_required: NonNegative
    sources: list[OfficerSource]
    shortfall: NonNegative


class Recommendation(Contract):
    """What to do, following the alert's playbook; versioned as the plan changes."""

    summary: str
    actions: list[str] = Field(default_factory=list, description="The playbook's steps")
    road_speed_kmh: float | None = None
    arteries: list[ArteryPlan] = Field(default_factory=list)
    keep_open: list[KeepOpenRoad] = Field(default_factory=list)
    reinforcement: Reinforcement | None = None
    plan_version: Annotated[int, Field(ge=1)] = 1
    changes: list[str] = Field(
        default_factory=list, description="What changed since the previous plan version"
    )


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
    persons_last_hour: int | None = None
    persons_threshold: float | None = None
    persons_baseline_hourly: float | None = None
    categories: list[str] = Field(default_factory=list)
    sections: list[str] = Field(default_factory=list, description="Sections the plan covers")
    previous_alert_id: str | None = Field(
        None, description="The alert resolved by hand that this one re-arms"
    )
    previous_alert_level: Level | None = Field(None, description="Its level when resolved")
    last_report_at: AwareDatetime | None = None
    silent_for_s: float | None = None
    expected_cadence_s: float | None = None
    explanation: list[str] = Field(default_factory=list, description="The rule, in words")


class AlertState(Contract):
    """Full state of one alert; alert_id is deterministic per rule x section x episode."""

    alert_id: str
    schema_version: Literal[3] = 3
    rule: AlertRule
    playbook: str = Field(min_length=1, description="Reference playbook the alert follows")
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
