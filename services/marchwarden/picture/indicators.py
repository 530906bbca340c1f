"""Indicator state (lit, cleared, expired) and the per-section threat level with its reasons."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from marchwarden.contracts.alerts import SourceRef
from marchwarden.contracts.common import LEVEL_RANK, LEVELS, Level, Tlp
from marchwarden.contracts.events import Indicator


@dataclass(slots=True)
class IndicatorState:
    """Latest known state of one indicator (by indicator_id), in event time."""

    indicator_id: str
    section_id: str
    sections: tuple[str, ...]
    category: str
    level: Level
    state: str  # "lit" | "cleared" | "expired"
    confidence: float
    valid_until: datetime | None
    updated_at: datetime
    event_id: str
    # Who may see it: its TLP marking, the reporting organisation, and for AMBER the others.
    tlp: Tlp = "red"
    originator: str = ""
    share_with: tuple[str, ...] = ()

    def source_ref(self) -> SourceRef:
        return SourceRef(
            indicator_id=self.indicator_id,
            event_id=self.event_id,
            category=self.category,
            level=self.level,
            tlp=self.tlp,
            originator=self.originator,
            share_with=list(self.share_with),
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "indicator_id": self.indicator_id,
            "section_id": self.section_id,
            "sections": list(self.sections),
            "category": self.category,
            "level": self.level,
            "state": self.state,
            "confidence": self.confidence,
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "updated_at": self.updated_at.isoformat(),
            "event_id": self.event_id,
            "tlp": self.tlp,
            "originator": self.originator,
            "share_with": list(self.share_with),
        }


def apply_indicator(current: IndicatorState | None, event: Indicator) -> IndicatorState | None:
    """The new state after an indicator event, or None if the event is older than what we know."""
    if current is not None and event.occurred_at < current.updated_at:
        return None
    return IndicatorState(
        indicator_id=event.indicator_id,
        section_id=event.section_id,
        sections=(event.section_id, *event.extra_section_ids),
        category=event.category,
        level=event.level,
        state=event.state,
        confidence=event.confidence,
        valid_until=event.valid_until,
        updated_at=event.occurred_at,
        event_id=event.event_id,
        tlp=event.tlp,
        originator=event.reporter,
        share_with=tuple(event.share_with),
    )


def is_active(indicator: IndicatorState, watermark: datetime) -> bool:
    return indicator.state == "lit" and (
        indicator.valid_until is None or indicator.valid_until > watermark
    )


def effective_level(indicator: IndicatorState) -> Level:
    """The indicator's level, one lower when confidence is below 0.5 (a doubtful report)."""
    rank = LEVEL_RANK[indicator.level] - (1 if indicator.confidence < 0.5 else 0)
    return LEVELS[max(0, rank)]


def describe_indicator(indicator_id: str, category: str, level: str, confidence: float) -> str:
    """The threat-level reason one lit indicator gives (also used to withhold it by TLP)."""
    return f"indicator {indicator_id} ({category}) lit at {level}, confidence {confidence:.2f}"


def indicator_reason(indicator: IndicatorState) -> str:
    return describe_indicator(
        indicator.indicator_id, indicator.category, indicator.level, indicator.confidence
    )


def threat_level(
    lit: list[IndicatorState], surge_level: Level | None, surge_reason: str | None
) -> tuple[Level, list[str]]:
    """EUROSUR-style impact level of a section: the highest of its lit indicators and surge.

    An indicator with confidence below 0.5 counts one level lower, so a doubtful report
    alone cannot put a section at critical.
    """
    level_rank = 0
    reasons: list[str] = []
    for ind in sorted(lit, key=lambda i: (-LEVEL_RANK[i.level], i.indicator_id)):
        level_rank = max(level_rank, LEVEL_RANK[effective_level(ind)])
        reasons.append(indicator_reason(ind))
    if surge_level is not None:
        level_rank = max(level_rank, LEVEL_RANK[surge_level])
        reasons.append(surge_reason or f"surge at {surge_level}")
    if not reasons:
        reasons.append("no lit indicator and no surge")
    return LEVELS[max(0, level_rank)], reasons
