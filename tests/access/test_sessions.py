"""Session cookies: signed, short-lived, naming a token by id (never the token)."""

from __future__ import annotations

from marchwarden.access.sessions import SessionSigner


def test_a_session_value_proves_its_token_id_until_it_expires() -> None:
    clock = [1000.0]
    signer = SessionSigner(b"k" * 32, ttl_s=60, clock=lambda: clock[0])
    value = signer.issue("tok-1")
    session = signer.check(value)
    assert session is not None and session.token_id == "tok-1"
    clock[0] += 61
    assert signer.check(value) is None


def test_a_tampered_or_foreign_value_is_refused() -> None:
    signer = SessionSigner(b"k" * 32)
    value = signer.issue("tok-1")
    payload, signature = value.split(".")
    forged = signer.issue("tok-2").split(".")[0] + "." + signature
    assert signer.check(forged) is None
    assert SessionSigner(b"other" * 8).check(value) is None
    for junk in (None, "", "abc", "a.b.c", payload + ".", "." + signature, "x" * 1000):
        assert signer.check(junk) is None
