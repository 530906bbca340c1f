"""TLP at every exit: what one organisation may see of an indicator, an alert or the picture.

FIRST TLP 2.0 as Marchwarden applies it:
- CLEAR and GREEN: every organisation;
- AMBER: the originator (the indicator's reporter) and the organisations in `share_with`;
- RED: the originator only; the regional centre is another organisation and does not see it.
A reader who may not see a source learns that the alert exists, its level, status and
recommendation, and how many sources were withheld; never their ids, categories, causing
events or an operator's note about them. `organisation=None` is the view of no organisation
in particular: what the shared `ops.alerts` topic carries.
"""

from __future__ import annotations

from collections.abc import Iterable

from marchwarden.access.identity import ORGANISATIONS
from marchwarden.contracts.alerts import AlertState, SourceRef


def may_see(tlp: str, originator: str, share_with: Iterable[str], organisation: str | None) -> bool:
    if tlp in ("clear", "green"):
        return True
    if organisation is None or not originator:
        return False
    if tlp == "amber":
        return organisation == originator or organisation in share_with
    return tlp == "red" and organisation == originator


def source_visible(source: SourceRef, organisation: str | None) -> bool:
    return may_see(source.tlp, source.originator, source.share_with, organisation)


def redact_alert(alert: AlertState, organisation: str | None) -> AlertState:
    """The alert as `organisation` may see it (the same object when nothing is withheld)."""
    hidden = [s for s in alert.evidence.sources if not source_visible(s, organisation)]
    if not hidden:
        return alert
    hidden_ids = {s.indicator_id for s in hidden}
    hidden_events = {s.event_id for s in hidden}
    shown = [s for s in alert.evidence.sources if s.indicator_id not in hidden_ids]

    def names_hidden(line: str) -> bool:
        return any(i in line for i in hidden_ids)

    evidence = alert.evidence.model_copy(
        update={
            "sources": shown,
            "indicator_ids": [i for i in alert.evidence.indicator_ids if i not in hidden_ids],
            "event_ids": [e for e in alert.evidence.event_ids if e not in hidden_events],
            # The categories and the sentences that name a withheld indicator go with it.
            "categories": sorted({s.category for s in shown} & set(alert.evidence.categories)),
            "explanation": [e for e in alert.evidence.explanation if not names_hidden(e)],
        }
    )
    recommendation = alert.recommendation
    if recommendation is not None and recommendation.changes:
        recommendation = recommendation.model_copy(
            update={"changes": [c for c in recommendation.changes if not names_hidden(c)]}
        )
    # An operator's note may discuss what only their organisation sees.
    note_visible = organisation is not None and organisation == alert.operator_org
    return alert.model_copy(
        update={
            "evidence": evidence,
            "recommendation": recommendation,
            "withheld_sources": len(hidden),
            "operator_note": alert.operator_note if note_visible else None,
        }
    )


def shared_and_organisation_views(
    alert: AlertState,
) -> tuple[AlertState, dict[str, AlertState]]:
    """The shared view, and each organisation's view where it differs from the shared one."""
    shared = redact_alert(alert, None)
    differing = {}
    for organisation in ORGANISATIONS:
        view = redact_alert(alert, organisation)
        if view != shared:
            differing[organisation] = view
    return shared, differing
