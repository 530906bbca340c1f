"""What lit indicators call for: per playbook, the level, the sections and the indicators of
a section's demand, and what changed since the alert was last built."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from marchwarden.alerts.playbooks import calls_playbook
from marchwarden.contracts.alerts import SourceRef
from marchwarden.contracts.common import LEVEL_RANK, Level
from marchwarden.picture.indicators import IndicatorState, effective_level
from marchwarden.reference.models import ReferenceData
from marchwarden.reference.playbooks import Playbook


@dataclass(frozen=True, slots=True)
class Demand:
    """What the lit indicators of one section (as primary section) call for under one playbook."""

    rule: str
    playbook: Playbook
    level: Level
    sections: tuple[str, ...]
    indicator_ids: tuple[str, ...]
    event_ids: tuple[str, ...]
    categories: tuple[str, ...]
    sources: tuple[SourceRef, ...]
    cause_at: datetime
    explanation: tuple[str, ...]


def indicator_demands(
    indicators: Iterable[IndicatorState], section: str, now: datetime, reference: ReferenceData
) -> dict[str, Demand]:
    """Per indicator rule, the demand of the indicators lit on ``section`` at ``now``.

    Lapsed indicators are the caller's to mark expired, on the section's expiry clock: an
    indicator still marked lit counts here even if ``now`` is past its valid_until (a clear
    may still arrive on its own stream).

    An indicator calls the playbook of its category when its effective level (one lower below
    confidence 0.5) reaches the playbook's minimum; the demand's level is the highest such
    level, its sections those every calling indicator names, its cause time the latest update.
    """
    calling: dict[str, list[IndicatorState]] = {}
    for ind in indicators:
        if ind.section_id != section or ind.state != "lit":
            continue
        playbook = reference.playbook_for_category(ind.category)
        if playbook.indicator_rule is None or not calls_playbook(playbook, effective_level(ind)):
            continue
        calling.setdefault(playbook.indicator_rule, []).append(ind)
    demands = {}
    for rule, lit in calling.items():
        lit.sort(key=lambda i: i.indicator_id)
        playbook = reference.playbook_for_rule(rule)
        level = max((effective_level(i) for i in lit), key=LEVEL_RANK.__getitem__)
        sections = sorted({s for i in lit for s in i.sections if reference.has_section(s)})
        explanation = tuple(
            f"indicator {i.indicator_id} ({i.category}) lit at {i.level}, confidence "
            f"{i.confidence:.2f}: counts as {effective_level(i)}, calls '{playbook.title}'"
            for i in lit
        )
        demands[rule] = Demand(
            rule=rule,
            playbook=playbook,
            level=level,
            sections=tuple(sections),
            indicator_ids=tuple(i.indicator_id for i in lit),
            event_ids=tuple(i.event_id for i in lit),
            categories=tuple(sorted({i.category for i in lit})),
            sources=tuple(i.source_ref() for i in lit),
            cause_at=min(now, max(i.updated_at for i in lit)),
            explanation=explanation,
        )
    return demands


def basis_changes(
    level: Level, sections: Iterable[str], indicator_ids: Iterable[str], demand: Demand
) -> list[str]:
    """How ``demand`` differs from what an alert was built on, in words (empty: no change)."""
    out = []
    if demand.level != level:
        way = "up" if LEVEL_RANK[demand.level] > LEVEL_RANK[level] else "down"
        out.append(f"level {way} from {level} to {demand.level}")
    old_sections, new_sections = set(sections), set(demand.sections)
    if new_sections - old_sections:
        out.append(f"now also covers {', '.join(sorted(new_sections - old_sections))}")
    if old_sections - new_sections:
        out.append(f"no longer covers {', '.join(sorted(old_sections - new_sections))}")
    old_ids, new_ids = set(indicator_ids), set(demand.indicator_ids)
    if new_ids - old_ids:
        out.append(f"indicator {', '.join(sorted(new_ids - old_ids))} lit")
    if old_ids - new_ids:
        out.append(f"indicator {', '.join(sorted(old_ids - new_ids))} no longer lit")
    return out
