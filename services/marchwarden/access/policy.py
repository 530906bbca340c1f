"""Which role may call which endpoint: one table, default deny for everything not in it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from marchwarden.access.identity import ROLES, Role

# Open to anyone (GET): health, the watch floor page and its assets (it signs in by itself),
# and the API description. Nothing here carries data.
PUBLIC_PATHS = frozenset({"/health", "/", "/openapi.json"})
PUBLIC_PREFIXES = ("/static/",)
LOGIN_PATH = "/session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Rule:
    methods: frozenset[str]
    pattern: re.Pattern[str]
    roles: frozenset[Role]
    what: str


def _rule(methods: str, pattern: str, roles: tuple[Role, ...], what: str) -> Rule:
    return Rule(frozenset(methods.split()), re.compile(f"^{pattern}$"), frozenset(roles), what)


ANYONE_SIGNED_IN: tuple[Role, ...] = ROLES
ALERT_ID = r"[A-Za-z0-9_.-]{1,128}"

RULES: tuple[Rule, ...] = (
    _rule("GET HEAD", "/whoami", ANYONE_SIGNED_IN, "who the caller is"),
    _rule("DELETE", LOGIN_PATH, ANYONE_SIGNED_IN, "sign out"),
    _rule("GET HEAD", "/picture", ("operator",), "the situational picture"),
    _rule("GET HEAD", "/alerts", ("operator",), "open alerts"),
    _rule("GET HEAD", "/alerts/stream", ("operator",), "the alert stream"),
    _rule("GET HEAD", "/reference.geojson", ANYONE_SIGNED_IN, "the reference map"),
    _rule("GET HEAD", "/parks", ("operator",), "counter-mobility stock"),
    _rule(
        "POST",
        f"/alerts/{ALERT_ID}/(acknowledge|resolve|annotate)",
        ("operator",),
        "commands on an alert",
    ),
    _rule(
        "POST",
        r"/sections/[A-Z]{2}-[A-Z]{2}-\d{2}/(silence|unsilence)",
        ("operator",),
        "silencing a section's rules",
    ),
    _rule("POST", "/history/sql", ("analyst",), "analyst SQL"),
    _rule("POST", "/history/report", ("analyst",), "canned reports"),
    _rule("POST", "/admin/(flush|replay|verify)", ("admin",), "maintenance of the live tables"),
    _rule("GET HEAD POST", "/admin/tokens", ("admin",), "token management"),
    _rule("DELETE", "/admin/tokens/[A-Za-z0-9_-]{1,64}", ("admin",), "token management"),
    _rule("POST", "/events", ("reporter",), "posting border events"),
)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    status: int
    message: str
    needs_roles: tuple[str, ...] = ()


def is_public(method: str, path: str) -> bool:
    if method not in SAFE_METHODS:
        return False
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def decide(role: Role, method: str, path: str) -> Decision:
    """Allow, or the refusal (404 for paths no role may use, 403 naming the roles needed)."""
    matching = [r for r in RULES if r.pattern.match(path)]
    if not matching:
        return Decision(False, 404, f"no endpoint {path}")
    for rule in matching:
        if method in rule.methods and role in rule.roles:
            return Decision(True, 200, "")
    by_method = [r for r in matching if method in r.methods]
    if not by_method:
        return Decision(False, 405, f"{method} is not allowed on {path}")
    needed = sorted({role for r in by_method for role in r.roles})
    return Decision(
        False,
        403,
        f"{by_method[0].what} needs role {' or '.join(needed)}; this token has role {role}",
        tuple(needed),
    )
