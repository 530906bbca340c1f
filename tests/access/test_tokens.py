"""Tokens: shown once, stored as hashes only, compared in constant time, re-read on change."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from marchwarden.access.tokens import (
    TokenError,
    TokenStore,
    create_token,
    list_tokens,
    make_record,
    revoke_tokens,
    token_hash,
)


def test_the_file_keeps_the_hash_never_the_token(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    token, record = create_token(path, "operator", "LT-VSAT", "ana")
    text = path.read_text()
    assert token not in text
    assert token_hash(token) in text and record.sha256 == token_hash(token)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(token) > 40 and token.startswith("mw_")


def test_a_store_accepts_its_tokens_and_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    token, _ = create_token(path, "analyst", "PL-SG", "piotr")
    store = TokenStore(path)
    principal = store.authenticate(token)
    assert principal is not None
    assert (principal.name, principal.role, principal.organisation) == ("piotr", "analyst", "PL-SG")
    for wrong in (None, "", token[:-1], token + "x", "mw_" + "a" * 43, "x" * 10_000):
        assert store.authenticate(wrong) is None


def test_a_running_store_sees_new_and_revoked_tokens_without_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    clock = [0.0]
    store = TokenStore(path, recheck_s=1.0, clock=lambda: clock[0])
    token, record = create_token(path, "admin", "EU-RCC", "root-1")
    clock[0] += 1.5
    assert store.authenticate(token) is not None
    assert store.principal_by_id(record.id) is not None
    assert revoke_tokens(path, name="root-1") == 1
    clock[0] += 1.5
    assert store.authenticate(token) is None
    assert store.principal_by_id(record.id) is None


def test_a_broken_file_keeps_the_tokens_loaded_before(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    token, _ = create_token(path, "operator", "EE-PPA", "eve")
    store = TokenStore(path, recheck_s=0)
    path.write_text("{ not json")
    store.reload(force=True)
    assert store.authenticate(token) is not None


def test_environment_records_are_hashes_too() -> None:
    token, record = make_record("operator", "LV-VRS", "liga")
    env = json.dumps(
        [{"sha256": record.sha256, "role": "operator", "organisation": "LV-VRS", "name": "liga"}]
    )
    store = TokenStore(None, env)
    principal = store.authenticate(token)
    assert principal is not None and principal.organisation == "LV-VRS"
    assert store.organisations_of("liga", "operator") == {"LV-VRS"}
    assert store.organisations_of("liga", "admin") == set()


@pytest.mark.parametrize(
    ("record", "fragment"),
    [
        ({"sha256": "ab", "role": "operator", "organisation": "LT-VSAT", "name": "a"}, "64"),
        ({"sha256": "a" * 64, "role": "root", "organisation": "LT-VSAT", "name": "a"}, "role"),
        (
            {"sha256": "a" * 64, "role": "admin", "organisation": "XX-NOPE", "name": "a"},
            "organisation",
        ),
        ({"sha256": "a" * 64, "role": "admin", "organisation": "EU-RCC", "name": "a b"}, "name"),
        ({"role": "admin", "organisation": "EU-RCC", "name": "a"}, "sha256"),
    ],
)
def test_bad_environment_records_are_refused_with_the_reason(record: dict, fragment: str) -> None:
    with pytest.raises(TokenError, match=fragment):
        TokenStore(None, json.dumps([record]))


def test_one_name_is_one_person_in_one_organisation(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    create_token(path, "operator", "LT-VSAT", "ana")
    create_token(path, "operator", "LT-VSAT", "ana")  # a second token (rotation) is fine
    with pytest.raises(TokenError, match="two organisations"):
        create_token(path, "operator", "LV-VRS", "ana")
    assert [r.name for r in list_tokens(path)] == ["ana", "ana"]
