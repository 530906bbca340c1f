"""Bearer tokens: created once, stored only as SHA-256 hashes, compared in constant time.

A token is 256 bits from the OS random generator, so one SHA-256 is a safe verifier (no
password stretching needed: there is nothing to guess). Tokens live in a JSON file under the
data directory (written atomically, mode 0600, re-read by a running worker when it changes)
and, for deployments that configure everything through the environment, in MARCHWARDEN_TOKENS
(a JSON list of the same records). The token itself is shown once, by `token create`, and is
never stored or logged.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from marchwarden.access.identity import Principal, Role, check_organisation, check_role

log = logging.getLogger(__name__)

TOKEN_PREFIX = "mw_"
MAX_TOKEN_LENGTH = 200
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
HASH_PATTERN = re.compile(r"^[0-9a-f]{64}$")
TOKENS_FILE = "tokens.json"


class TokenError(ValueError):
    """A token record or file is not usable; the message says why."""


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise TokenError(
            f"name {name!r} must be 1-64 letters, digits or . _ @ - (it is the operator_id)"
        )
    return name


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """What is kept about one token: its hash and whose it is, never the token."""

    id: str
    sha256: str
    role: Role
    organisation: str
    name: str
    created_at: str = ""

    def principal(self) -> Principal:
        return Principal(self.name, self.role, self.organisation, self.id)

    def public(self) -> dict[str, str]:
        """The record without its hash (for listings)."""
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "organisation": self.organisation,
            "created_at": self.created_at,
        }


def record_from_dict(raw: Any, default_id: str | None = None) -> TokenRecord:
    if not isinstance(raw, dict):
        raise TokenError(f"a token record must be an object, got {type(raw).__name__}")
    try:
        digest = str(raw["sha256"]).lower()
        role = check_role(str(raw["role"]))
        organisation = check_organisation(str(raw["organisation"]))
        name = check_name(str(raw["name"]))
    except KeyError as exc:
        raise TokenError(f"a token record lacks {exc.args[0]!r}") from None
    except ValueError as exc:
        raise TokenError(str(exc)) from None
    if not HASH_PATTERN.match(digest):
        raise TokenError("sha256 must be 64 lowercase hex digits")
    token_id = str(raw.get("id") or default_id or "h-" + digest[:12])
    return TokenRecord(token_id, digest, role, organisation, name, str(raw.get("created_at", "")))


def parse_records(text: str, source: str) -> list[TokenRecord]:
    """Records from the file format ({"tokens": [...]}) or a bare list (the env variable)."""
    try:
        document = json.loads(text) if text.strip() else []
    except ValueError as exc:
        raise TokenError(f"{source} is not JSON: {exc}") from None
    items = document.get("tokens", []) if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise TokenError(f"{source} must hold a list of token records")
    records = [record_from_dict(item) for item in items]
    check_consistent(records, source)
    return records


def check_consistent(records: list[TokenRecord], source: str) -> None:
    """One name is one person: all its tokens share an organisation and a role."""
    seen: dict[str, tuple[str, str]] = {}
    for record in records:
        owner = (record.organisation, record.role)
        if seen.setdefault(record.name, owner) != owner:
            raise TokenError(
                f"{source}: name {record.name!r} has tokens for two organisations or roles"
            )


class TokenStore:
    """The accepted tokens: the file (re-read when it changes) plus the environment's."""

    def __init__(
        self,
        path: Path | None,
        env_records: str | None = None,
        *,
        recheck_s: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.recheck_s = recheck_s
        self.clock = clock
        self.env = parse_records(env_records, "MARCHWARDEN_TOKENS") if env_records else []
        self._file: list[TokenRecord] = []
        self._stamp: tuple[int, int, int] | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()
        self.reload(force=True)

    # ------------------------------------------------------------------ reading
    def reload(self, force: bool = False) -> bool:
        """Re-read the file if it changed (at most every recheck_s); True when it did."""
        now = self.clock()
        if not force and now - self._checked < self.recheck_s:
            return False
        with self._lock:
            self._checked = now
            stamp = self._file_stamp()
            if stamp == self._stamp and not force:
                return False
            if stamp is None:
                self._file, self._stamp = [], None
                return True
            try:
                assert self.path is not None
                records = parse_records(self.path.read_text(encoding="utf-8"), str(self.path))
            except (OSError, TokenError) as exc:
                # Keep the tokens we had: a broken edit must not lock everyone out, and it
                # cannot let anyone in either.
                log.error("token file not reloaded: %s", exc)
                return False
            self._file, self._stamp = records, stamp
            log.info("token file loaded: %d token(s)", len(records))
            return True

    def _file_stamp(self) -> tuple[int, int, int] | None:
        if self.path is None:
            return None
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def records(self) -> list[TokenRecord]:
        self.reload()
        return [*self.env, *self._file]

    def authenticate(self, token: str | None) -> Principal | None:
        """The principal of a presented token, or None; constant time in the token's value."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        presented = token_hash(token).encode()
        found: TokenRecord | None = None
        # Every record is compared, with no early exit, so timing says nothing about which
        # (or whether any) hash matched.
        for record in self.records():
            if hmac.compare_digest(presented, record.sha256.encode()) and found is None:
                found = record
        return found.principal() if found else None

    def principal_by_id(self, token_id: str) -> Principal | None:
        """The principal of a token still accepted (sessions refer to tokens by id)."""
        for record in self.records():
            if hmac.compare_digest(record.id.encode(), token_id.encode()):
                return record.principal()
        return None

    def organisations_of(self, name: str, role: Role) -> set[str]:
        """The organisations in which `name` holds a token of `role` (one, when consistent)."""
        return {r.organisation for r in self.records() if r.name == name and r.role == role}


# ---------------------------------------------------------------------- writing the file
@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(path.suffix + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_file(path: Path) -> list[TokenRecord]:
    if not path.exists():
        return []
    return parse_records(path.read_text(encoding="utf-8"), str(path))


def _write_file(path: Path, records: list[TokenRecord]) -> None:
    """Atomic replace with mode 0600: a reader sees the old file or the new one, whole."""
    body = json.dumps({"version": 1, "tokens": [asdict(r) for r in records]}, indent=2) + "\n"
    fd, temp = tempfile.mkstemp(prefix=".tokens-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def make_record(role: str, organisation: str, name: str) -> tuple[str, TokenRecord]:
    """A new token and the record that verifies it."""
    token = new_token()
    record = TokenRecord(
        id=secrets.token_hex(6),
        sha256=token_hash(token),
        role=check_role(role),
        organisation=check_organisation(organisation),
        name=check_name(name),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    return token, record


def create_token(path: Path, role: str, organisation: str, name: str) -> tuple[str, TokenRecord]:
    """Add a new token's hash to the file; returns the token (shown once) and its record."""
    try:
        token, record = make_record(role, organisation, name)
    except ValueError as exc:
        raise TokenError(str(exc)) from None
    with _locked(path):
        records = _read_file(path)
        records.append(record)
        check_consistent(records, str(path))
        _write_file(path, records)
    return token, record


def revoke_tokens(path: Path, name: str | None = None, token_id: str | None = None) -> int:
    """Remove the tokens of a name, or one token by id; returns how many were removed."""
    if name is None and token_id is None:
        raise TokenError("give a name or a token id to revoke")
    with _locked(path):
        records = _read_file(path)
        kept = [
            r
            for r in records
            if not ((name is not None and r.name == name) or (token_id and r.id == token_id))
        ]
        if len(kept) != len(records):
            _write_file(path, kept)
    return len(records) - len(kept)


def list_tokens(path: Path) -> list[TokenRecord]:
    return _read_file(path)
