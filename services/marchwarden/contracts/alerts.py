"""Alert states published on ops.alerts: each message is the alert's full current state."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from marchwarden.contracts.common import Contract, Level

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


class AlertEvidence(Contract):
    """Why the alert is in its state: counts, baseline, indicators, causing events."""

    attempts_last_hour: int | None = None
    threshold: float | None = None
    baseline_hourly: float | None = None
    surge_ratio: float | None = None
    indicator_ids: list[str] = []
    event_ids: list[str] = Field(default_factory=list, description="The most recent causing events")


class AlertState(Contract):
    """Full state of one alert; alert_id is deterministic per rule x section x episode."""

    alert_id: str
    schema_version: Literal[1] = 1
    rule: AlertRule
    level: AlertLevel
    status: AlertStatus
    section_id: str
    raised_at: AwareDatetime
    updated_at: AwareDatetime
    version: Annotated[int, Field(ge=1, description="Increases with every state change")]
    evidence: AlertEvidence
    recommendation: Recommendation | None = None
    operator_id: str | None = None
    operator_note: str | None = None
