"""aiohttp middleware in front of every worker endpoint: who is calling, may they, and from where.

Order of checks: `/health`, the watch floor page and the API description pass; the caller is
authenticated (a bearer token, or a session
cookie obtained by POSTing a token to /session); state-changing requests must come from this
origin and carry JSON (so a cross-site form or `text/plain` POST never runs); then the policy
table decides by role. Views find the caller in `request["principal"]`. Nothing here logs a
token, and tokens are never accepted in URLs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from marchwarden.access.identity import Principal
from marchwarden.access.policy import LOGIN_PATH, SAFE_METHODS, decide, is_public
from marchwarden.access.sessions import COOKIE_NAME, SessionSigner
from marchwarden.access.tokens import TokenStore

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PRINCIPAL = "principal"


@dataclass
class AccessControl:
    """Everything the middleware needs: the tokens, the session signer and origin settings."""

    tokens: TokenStore
    sessions: SessionSigner
    allowed_origins: frozenset[str] = field(default_factory=frozenset)
    cookie_secure: bool = False


def refuse(status: int, message: str, **extra: Any) -> web.Response:
    headers = {"WWW-Authenticate": 'Bearer realm="marchwarden"'} if status == 401 else None
    return web.json_response({"error": message, **extra}, status=status, headers=headers)


def principal_of(request: web.Request) -> Principal:
    principal: Principal = request[PRINCIPAL]
    return principal


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def own_origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}".lower()


def origin_problem(request: web.Request, access: AccessControl, by_cookie: bool) -> str | None:
    """Why a state-changing request must not run (cross-site or not JSON), or None."""
    origin = request.headers.get("Origin")
    if origin is not None:
        origin = origin.lower()
        if origin != own_origin(request) and origin not in access.allowed_origins:
            return f"cross-origin request from {origin} refused"
    elif by_cookie and request.headers.get("Sec-Fetch-Site") != "same-origin":
        # Browsers send Origin on every POST; a cookie without one is not from our page.
        return "a request signed in by cookie must carry an Origin header"
    has_body = bool(request.content_length) or request.body_exists
    if has_body and request.content_type != "application/json":
        return f"request bodies must be application/json, not {request.content_type or 'none'}"
    return None


async def login(request: web.Request, access: AccessControl) -> web.Response:
    """POST /session with a bearer token (header or JSON body): sets the session cookie."""
    problem = origin_problem(request, access, by_cookie=False)
    if problem:
        return refuse(403, problem)
    token = bearer_token(request)
    if token is None and request.body_exists:
        try:
            body = await request.json()
        except ValueError:
            return refuse(400, 'the body must be JSON: {"token": "…"}')
        token = str(body.get("token", "")) if isinstance(body, dict) else ""
    principal = access.tokens.authenticate(token)
    if principal is None:
        return refuse(401, "a valid bearer token is needed to sign in")
    response = web.json_response(
        {"signed_in": principal.describe(), "expires_in_s": int(access.sessions.ttl_s)}
    )
    response.set_cookie(
        COOKIE_NAME,
        access.sessions.issue(principal.token_id),
        max_age=int(access.sessions.ttl_s),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=access.cookie_secure,
    )
    log.info("signed in: %s", principal.describe())
    return response


def logout() -> web.Response:
    response = web.json_response({"signed_out": True})
    response.del_cookie(COOKIE_NAME, path="/")
    return response


def authenticate(
    request: web.Request, access: AccessControl
) -> tuple[Principal | None, bool, str | None]:
    """(principal, by_cookie, refusal): a bad bearer token is refused, never downgraded."""
    token = bearer_token(request)
    if token is not None:
        principal = access.tokens.authenticate(token)
        return principal, False, None if principal else "invalid or revoked token"
    session = access.sessions.check(request.cookies.get(COOKIE_NAME))
    if session is None:
        return None, False, "sign in: send `Authorization: Bearer <token>` or POST it to /session"
    principal = access.tokens.principal_by_id(session.token_id)
    return principal, True, None if principal else "the session's token has been revoked"


def access_middleware(access: AccessControl) -> Any:
    @web.middleware
    async def check_access(request: web.Request, handler: Handler) -> web.StreamResponse:
        path, method = request.path, request.method
        if is_public(method, path):
            return await handler(request)
        if path == LOGIN_PATH and method == "POST":
            return await login(request, access)
        principal, by_cookie, problem = authenticate(request, access)
        if principal is None:
            return refuse(401, problem or "not signed in")
        if method not in SAFE_METHODS:
            problem = origin_problem(request, access, by_cookie)
            if problem:
                return refuse(403, problem)
        decision = decide(principal.role, method, path)
        if not decision.allowed:
            extra = {"needs_role": list(decision.needs_roles)} if decision.needs_roles else {}
            return refuse(decision.status, decision.message, **extra)
        if path == LOGIN_PATH and method == "DELETE":
            return logout()
        if path == "/whoami":
            return web.json_response(whoami(principal))
        request[PRINCIPAL] = principal
        return await handler(request)

    return check_access


def whoami(principal: Principal) -> dict[str, str]:
    return {"name": principal.name, "role": principal.role, "organisation": principal.organisation}


def install(web_app: web.Application, access: AccessControl) -> None:
    """Put the middleware first, before the app starts (aiohttp freezes the list then)."""
    web_app.middlewares.insert(0, access_middleware(access))


def parse_origins(text: str | None) -> frozenset[str]:
    return frozenset(o.strip().lower().rstrip("/") for o in (text or "").split(",") if o.strip())


def forbidden_unless(condition: bool, message: str, **extra: Iterable[str]) -> None:
    """Raise a 403 with the reason (used by views for per-section and per-org checks)."""
    if not condition:
        raise web.HTTPForbidden(
            text=json.dumps({"error": message, **{k: list(v) for k, v in extra.items()}}),
            content_type="application/json",
        )
