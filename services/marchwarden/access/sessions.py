"""Browser sessions: a short-lived value signed with HMAC, carried in an HttpOnly cookie.

The cookie names the token (by its public id) and an expiry, so revoking the token ends its
sessions at once; it never contains the token or its hash. The signing key comes from
MARCHWARDEN_SESSION_KEY (shared by several workers behind one address) or is drawn at start,
in which case a restart signs everyone out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

COOKIE_NAME = "mw_session"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class Session:
    token_id: str
    expires_at: float


class SessionSigner:
    """Issues and checks session values; pure apart from the injected clock."""

    def __init__(
        self,
        key: bytes | None = None,
        ttl_s: float = 8 * 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.key = key or secrets.token_bytes(32)
        self.ttl_s = ttl_s
        self.clock = clock

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self.key, payload.encode(), hashlib.sha256).digest())

    def issue(self, token_id: str) -> str:
        body = {"t": token_id, "e": int(self.clock() + self.ttl_s), "n": secrets.token_hex(4)}
        payload = _b64(json.dumps(body, separators=(",", ":")).encode())
        return f"{payload}.{self._sign(payload)}"

    def check(self, value: str | None) -> Session | None:
        """The session a cookie value proves, or None (bad signature, expired, malformed)."""
        if not value or len(value) > 512 or value.count(".") != 1:
            return None
        payload, signature = value.split(".")
        if not hmac.compare_digest(signature.encode(), self._sign(payload).encode()):
            return None
        try:
            body = json.loads(_unb64(payload))
            session = Session(str(body["t"]), float(body["e"]))
        except (ValueError, KeyError, TypeError):
            return None
        if session.expires_at <= self.clock():
            return None
        return session
