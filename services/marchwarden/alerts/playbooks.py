"""Playbooks as recommendations: which playbook an indicator calls, border-guard reinforcement,
and the advisories that move no equipment."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from marchwarden.contracts.alerts import OfficerSource, Recommendation, Reinforcement
from marchwarden.reference.models import ReferenceData
from marchwarden.reference.playbooks import LEVEL_ORDER, Playbook


def calls_playbook(playbook: Playbook, level: str) -> bool:
    """An indicator calls its category's playbook at the playbook's minimum level or above."""
    return LEVEL_ORDER.index(level) >= LEVEL_ORDER.index(playbook.min_level)


def reinforcement_plan(
    reference: ReferenceData, section_id: str, officers_required: int, quiet: Collection[str]
) -> Reinforcement:
    """Border guards for a section: the own agency's mobile reserve first, then requests to
    the neighbouring agencies it asks, in order, each up to what it usually sends.

    ``quiet`` are the sections at low threat: officers are drawn from those (as Lithuania
    planned to send officers from its quieter Russian border to Latvia in 2024). Officers
    are not booked across alerts: two reinforcements of one country each see the full reserve.
    """
    country = reference.country_of(section_id)
    own = reference.agency_of(country)
    sources: list[OfficerSource] = []
    remaining = officers_required

    def quiet_of(c: str) -> list[str]:
        return [s.id for s in reference.sections_of(c) if s.id in quiet and s.id != section_id]

    take = min(remaining, own.mobile_reserve_officers)
    if take:
        sources.append(
            OfficerSource(
                agency=own.id,
                country=country,
                officers=take,
                request=False,
                from_sections=quiet_of(country),
            )
        )
        remaining -= take
    for agency_id in own.asks:
        if remaining <= 0:
            break
        helper = reference.agency(agency_id)
        take = min(remaining, helper.assistance_officers)
        if take:
            sources.append(
                OfficerSource(
                    agency=helper.id,
                    country=helper.country,
                    officers=take,
                    request=True,
                    from_sections=quiet_of(helper.country),
                )
            )
            remaining -= take
    return Reinforcement(officers_required=officers_required, sources=sources, shortfall=remaining)


def reinforcement_recommendation(
    reference: ReferenceData,
    playbook: Playbook,
    section_id: str,
    level: str,
    quiet: Collection[str],
) -> Recommendation:
    """The border-guard reinforcement playbook for one section at one level."""
    plan = reinforcement_plan(reference, section_id, playbook.officers_at(level), quiet)
    parts = [f"Reinforce {section_id} with {plan.officers_required} border guards"]
    for source in plan.sources:
        if source.request:
            parts.append(f"request {source.officers} from {source.agency} ({source.country})")
        else:
            parts.append(f"{source.officers} from the {source.agency} reserve")
    if plan.shortfall:
        parts.append(f"{plan.shortfall} still missing")
    return Recommendation(
        summary=": ".join([parts[0], ", ".join(parts[1:])]) if len(parts) > 1 else parts[0],
        actions=list(playbook.actions),
        reinforcement=plan,
    )


def advisory_recommendation(playbook: Playbook, sections: Sequence[str]) -> Recommendation:
    """An advisory: the playbook's steps for the sections concerned, no equipment moved."""
    return Recommendation(
        summary=f"{playbook.title} for {', '.join(sections)}", actions=list(playbook.actions)
    )
