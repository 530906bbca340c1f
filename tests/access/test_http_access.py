"""Every endpoint but /health asks who is calling, refuses the wrong role, organisation and origin."""

from __future__ import annotations

import subprocess
import sys
from http.cookies import SimpleCookie
from typing import Any

import pytest

from tests.support.stack import TOKENS, WorkerProcess, http, wait_until

PROTECTED = [
    ("GET", "/picture"),
    ("GET", "/alerts"),
    ("GET", "/parks"),
    ("POST", "/alerts/surge.LT-BY-01.1/acknowledge"),
    ("POST", "/history/sql"),
    ("POST", "/history/report"),
    ("POST", "/admin/replay"),
    ("POST", "/admin/flush"),
    ("POST", "/admin/verify"),
    ("GET", "/admin/tokens"),
    ("GET", "/alerts/stream"),
    ("GET", "/reference.geojson"),
    ("POST", "/events"),
    ("GET", "/stats/"),
]
PUBLIC = ["/health", "/", "/openapi.json", "/static/screen.js"]


def call(worker: WorkerProcess, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    body = kwargs.pop("body", {} if method == "POST" else None)
    return http(method, worker.url + path, body, **kwargs)


def test_health_is_open_and_everything_else_needs_a_token(module_worker: WorkerProcess) -> None:
    for path in PUBLIC:
        assert http("GET", module_worker.url + path)[0] == 200, path
    for method, path in PROTECTED:
        for token in (None, "mw_not-a-token", TOKENS("operator") + "x"):
            status, body = call(module_worker, method, path, token=token)
            assert status == 401, (method, path, token, body)


@pytest.mark.parametrize(
    ("role", "method", "path", "needed"),
    [
        ("analyst", "POST", "/admin/replay", "admin"),
        ("operator", "POST", "/admin/flush", "admin"),
        ("operator", "POST", "/history/sql", "analyst"),
        ("admin", "GET", "/picture", "operator"),
        ("analyst", "POST", "/alerts/surge.LT-BY-01.1/resolve", "operator"),
        ("reporter", "GET", "/alerts", "operator"),
    ],
)
def test_a_wrong_role_is_told_which_role_is_needed(
    module_worker: WorkerProcess, role: str, method: str, path: str, needed: str
) -> None:
    status, body = call(module_worker, method, path, token=TOKENS(role))
    assert status == 403 and body["needs_role"] == [needed], body


def test_another_organisations_operator_cannot_act_on_a_section(
    module_worker: WorkerProcess,
) -> None:
    status, body = call(
        module_worker,
        "POST",
        "/alerts/surge.LT-BY-01.1/acknowledge",
        token=TOKENS("operator", "LV-VRS"),
    )
    assert status == 403 and "LT-VSAT or EU-RCC" in body["error"], body


def test_cross_site_and_simple_requests_are_refused(module_worker: WorkerProcess) -> None:
    admin = TOKENS("admin")
    evil = {"Origin": "http://evil.example"}
    assert call(module_worker, "POST", "/admin/flush", token=admin, headers=evil)[0] == 403
    plain = {"Content-Type": "text/plain"}
    status, body = call(module_worker, "POST", "/admin/replay", token=admin, headers=plain)
    assert status == 403 and "application/json" in body["error"]
    own = {"Origin": module_worker.url}
    assert call(module_worker, "POST", "/admin/flush", token=admin, headers=own)[0] == 200


def session_cookie(worker: WorkerProcess, token: str) -> tuple[str, str]:
    """POST the token to /session; returns the cookie value and its Set-Cookie header."""
    import urllib.request

    request = urllib.request.Request(
        worker.url + "/session",
        data=b'{"token": "' + token.encode() + b'"}',
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        header = response.headers["Set-Cookie"]
    cookie = SimpleCookie()
    cookie.load(header)
    return cookie["mw_session"].value, header


def test_a_browser_session_is_an_httponly_strict_cookie_and_checks_origin(
    module_worker: WorkerProcess,
) -> None:
    value, header = session_cookie(module_worker, TOKENS("admin"))
    assert "HttpOnly" in header and "SameSite=Strict" in header and "Path=/" in header
    assert TOKENS("admin") not in header
    cookie = {"Cookie": f"mw_session={value}"}
    status, body = call(module_worker, "GET", "/whoami", headers=cookie)
    assert status == 200 and body["role"] == "admin"
    # A state-changing request by cookie must come from this origin, as JSON.
    assert call(module_worker, "POST", "/admin/flush", headers=cookie)[0] == 403
    evil = {**cookie, "Origin": "http://evil.example"}
    assert call(module_worker, "POST", "/admin/flush", headers=evil)[0] == 403
    plain = {**cookie, "Origin": module_worker.url, "Content-Type": "text/plain"}
    assert call(module_worker, "POST", "/admin/flush", headers=plain)[0] == 403
    own = {**cookie, "Origin": module_worker.url}
    assert call(module_worker, "POST", "/admin/flush", headers=own)[0] == 200
    forged = {"Cookie": f"mw_session={value[:-2]}xx", "Origin": module_worker.url}
    assert call(module_worker, "POST", "/admin/flush", headers=forged)[0] == 401
    assert http("POST", module_worker.url + "/session", {"token": "mw_wrong"})[0] == 401


def create_cli_token(worker: WorkerProcess, *args: str) -> str:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "marchwarden.cli",
            "token",
            "create",
            *args,
            "--data-dir",
            str(worker.data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.splitlines()[-1]


def test_tokens_created_and_revoked_while_running_take_effect_without_a_restart(
    module_worker: WorkerProcess,
) -> None:
    token = create_cli_token(
        module_worker, "--role", "operator", "--org", "EE-PPA", "--name", "kadri"
    )
    assert token not in (module_worker.data_dir / "tokens.json").read_text()
    wait_until(
        lambda: call(module_worker, "GET", "/whoami", token=token)[0] == 200, 10, "the new token"
    )
    value, _ = session_cookie(module_worker, token)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "marchwarden.cli",
            "token",
            "revoke",
            "--name",
            "kadri",
            "--data-dir",
            str(module_worker.data_dir),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    wait_until(
        lambda: call(module_worker, "GET", "/whoami", token=token)[0] == 401, 10, "revocation"
    )
    cookie = {"Cookie": f"mw_session={value}"}
    assert call(module_worker, "GET", "/whoami", headers=cookie)[0] == 401, "its sessions end too"


def test_admins_manage_tokens_over_http_and_never_see_hashes(module_worker: WorkerProcess) -> None:
    status, created = call(
        module_worker,
        "POST",
        "/admin/tokens",
        token=TOKENS("admin"),
        body={"role": "analyst", "organisation": "PL-SG", "name": "piotr"},
    )
    assert status == 201 and created["token"].startswith("mw_")
    assert call(module_worker, "GET", "/whoami", token=created["token"])[1]["name"] == "piotr"
    status, listing = call(module_worker, "GET", "/admin/tokens", token=TOKENS("admin"))
    assert status == 200 and any(t["name"] == "piotr" for t in listing["tokens"])
    assert "sha256" not in repr(listing) and created["token"] not in repr(listing)
    assert (
        call(module_worker, "DELETE", f"/admin/tokens/{created['id']}", token=TOKENS("admin"))[0]
        == 200
    )
    assert call(module_worker, "GET", "/whoami", token=created["token"])[0] == 401


def test_no_token_ever_reaches_a_log(module_worker: WorkerProcess) -> None:
    call(module_worker, "GET", "/picture", token=TOKENS("operator"))
    call(module_worker, "GET", "/picture", token="mw_typo-" + TOKENS("admin"))
    logs = "".join(p.read_text(errors="replace") for p in module_worker.data_dir.rglob("*.log"))
    assert logs, "the worker writes logs"
    for token in TOKENS.tokens.values():
        assert token not in logs
