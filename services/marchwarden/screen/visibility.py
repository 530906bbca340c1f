"""Who is asking, and what of the alert state they may see or send: the watch floor's one seam.

Every exit of the screen (the alert stream, its snapshot, the commands, POST /events) asks
these functions and nothing else, so identity, roles, organisations and TLP are enforced in
one place. Until the identity layer is in place every caller is the local viewer with every
role, which matches the rest of the HTTP API today (it binds to 127.0.0.1 by default).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from marchwarden.contracts.alerts import AlertState
from marchwarden.contracts.events import CrossingAttempt, Indicator, TurnBack

Role = Literal["operator", "analyst", "admin", "reporter"]
ROLES: tuple[Role, ...] = ("operator", "analyst", "admin", "reporter")


@dataclass(frozen=True, slots=True)
class Viewer:
    """The caller of one request."""

    subject: str
    roles: frozenset[Role]
    organisation: str | None = None

    def has(self, role: Role) -> bool:
        return role in self.roles


LOCAL_VIEWER = Viewer("local", frozenset(ROLES), None)

AlertView = Callable[[AlertState], AlertState | None]
"""What one viewer sees of an alert state: the state (possibly redacted) or nothing."""


WATCH_ROLES: frozenset[Role] = frozenset({"operator", "analyst", "admin"})
"""Roles that see the alert board and its stream."""


def may_watch(viewer: Viewer) -> bool:
    return bool(viewer.roles & WATCH_ROLES)


def viewer_of(request: web.Request) -> Viewer:
    """The caller of a request."""
    return LOCAL_VIEWER


def alert_view(viewer: Viewer) -> AlertView:
    """The filter applied to every alert state sent to this viewer (snapshot and changes)."""

    def view(alert: AlertState) -> AlertState | None:
        return alert

    return view


def event_refusal(viewer: Viewer, event: CrossingAttempt | TurnBack | Indicator) -> str | None:
    """Why this viewer may not report this event (its organisation, say), or None."""
    if not viewer.has("reporter"):
        return "the reporter role is required"
    return None
