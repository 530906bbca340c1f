"""Who is asking, and what of the alert state they may see or send: the watch floor's one seam.

Every exit of the screen (the alert stream, its snapshot, the commands, POST /events) asks
these functions and nothing else. The caller is the principal the access middleware
authenticated (access/web.py); what they see of an alert is its TLP view for their
organisation (access/tlp.py), and what they may do is decided by role and by the sections
their organisation covers (access/identity.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from marchwarden.access.identity import Role, covering_organisations, covers
from marchwarden.access.tlp import redact_alert
from marchwarden.access.web import PRINCIPAL
from marchwarden.contracts.alerts import AlertState
from marchwarden.contracts.events import CrossingAttempt, Indicator, SensorHeartbeat, TurnBack


@dataclass(frozen=True, slots=True)
class Viewer:
    """The caller of one request."""

    subject: str
    roles: frozenset[Role]
    organisation: str | None = None

    def has(self, role: Role) -> bool:
        return role in self.roles


NOBODY = Viewer("anonymous", frozenset(), None)

AlertView = Callable[[AlertState], AlertState | None]
"""What one viewer sees of an alert state: the state (possibly redacted) or nothing."""


WATCH_ROLES: frozenset[Role] = frozenset({"operator"})
"""Roles that see the alert board and its stream (the operations centres' watch)."""


def may_watch(viewer: Viewer) -> bool:
    return bool(viewer.roles & WATCH_ROLES)


def viewer_of(request: web.Request) -> Viewer:
    """The caller of a request, as the access middleware authenticated them."""
    principal = request.get(PRINCIPAL)
    if principal is None:
        return NOBODY
    return Viewer(principal.name, frozenset({principal.role}), principal.organisation)


def alert_view(viewer: Viewer) -> AlertView:
    """The filter applied to every alert state sent to this viewer (snapshot and changes).

    Everyone who may watch sees that an alert exists; TLP decides what else (the sources
    their organisation may not see are withheld).
    """

    def view(alert: AlertState) -> AlertState | None:
        if not may_watch(viewer):
            return None
        return redact_alert(alert, viewer.organisation)

    return view


def command_refusal(viewer: Viewer, section_id: str) -> str | None:
    """Why this viewer may not act on an alert of this section, or None."""
    if not viewer.has("operator"):
        return "commands need role operator"
    if viewer.organisation is None or not covers(viewer.organisation, section_id):
        needed = " or ".join(covering_organisations(section_id))
        return f"commands on {section_id} need an operator of {needed}"
    return None


def event_refusal(
    viewer: Viewer, event: CrossingAttempt | TurnBack | Indicator | SensorHeartbeat
) -> str | None:
    """Why this viewer may not report this event, or None: a reporter reports as its own
    organisation, for the sections it covers."""
    if not viewer.has("reporter"):
        return "the reporter role is required"
    if event.reporter != viewer.organisation:
        return (
            f"reporter {event.reporter} is not this token's organisation "
            f"({viewer.organisation}); a reporter posts its own organisation's reports"
        )
    if not covers(viewer.organisation, event.section_id):
        return f"{viewer.organisation} does not cover {event.section_id}"
    return None
