"""The role table: default deny, and a 403 that names the role needed."""

from __future__ import annotations

import pytest

from marchwarden.access.policy import decide


@pytest.mark.parametrize(
    ("role", "method", "path"),
    [
        ("operator", "GET", "/picture"),
        ("operator", "GET", "/alerts"),
        ("operator", "POST", "/alerts/surge.LT-BY-01.1/acknowledge"),
        ("operator", "POST", "/alerts/surge.LT-BY-01.1/annotate"),
        ("analyst", "POST", "/history/sql"),
        ("analyst", "POST", "/history/report"),
        ("admin", "POST", "/admin/replay"),
        ("admin", "POST", "/admin/flush"),
        ("admin", "POST", "/admin/tokens"),
        ("admin", "DELETE", "/admin/tokens/abc123"),
        ("reporter", "POST", "/events"),
        ("analyst", "GET", "/whoami"),
    ],
)
def test_each_role_reaches_its_endpoints(role: str, method: str, path: str) -> None:
    assert decide(role, method, path).allowed  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("role", "method", "path", "needed"),
    [
        ("analyst", "POST", "/alerts/surge.LT-BY-01.1/resolve", ["operator"]),
        ("admin", "GET", "/picture", ["operator"]),
        ("operator", "POST", "/history/sql", ["analyst"]),
        ("operator", "POST", "/admin/replay", ["admin"]),
        ("analyst", "POST", "/admin/flush", ["admin"]),
        ("reporter", "GET", "/alerts", ["operator"]),
    ],
)
def test_a_wrong_role_gets_403_naming_the_role_needed(
    role: str, method: str, path: str, needed: list[str]
) -> None:
    decision = decide(role, method, path)  # type: ignore[arg-type]
    assert (decision.allowed, decision.status, list(decision.needs_roles)) == (False, 403, needed)
    assert f"needs role {needed[0]}" in decision.message


def test_unknown_paths_and_methods_are_refused() -> None:
    assert decide("admin", "GET", "/").status == 404
    assert decide("admin", "GET", "/router/").status == 404
    assert decide("admin", "GET", "/admin/replay").status == 405
    assert decide("operator", "POST", "/alerts/x/delete").status == 404
