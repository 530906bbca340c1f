"""Numbered ClickHouse migrations, applied idempotently and recorded in a migrations table."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from marchwarden.history.store import HistoryStore
from marchwarden.messages import first_line

log = logging.getLogger(__name__)

MIGRATIONS_TABLE = "marchwarden_migrations"
ACCESS_CONTROL_MARKER = "-- requires: access-control"
# What ClickHouse answers when the migrating user may not manage access, or the users the
# grants name do not exist (they are created from the environment, not by migrations).
_ACCESS_REFUSALS = ("ACCESS_DENIED", "Not enough privileges", "UNKNOWN_USER", "UNKNOWN_ROLE")
_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def requires_access_control(self) -> bool:
        """Grants and roles: only a ClickHouse server has them (chDB has no users)."""
        return self.sql.lstrip().startswith(ACCESS_CONTROL_MARKER)

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]

    def statements(self) -> list[str]:
        # Our migrations never put ';' inside literals, so a plain split is enough.
        body = "\n".join(
            line for line in self.sql.splitlines() if not line.strip().startswith("--")
        )
        return [s.strip() for s in body.split(";") if s.strip()]


def migrations_dir() -> Path:
    """schemas/clickhouse in a checkout, or the copy packaged into the wheel."""
    checkout = Path(__file__).resolve().parents[3] / "schemas" / "clickhouse"
    if checkout.is_dir():
        return checkout
    return Path(str(resources.files("marchwarden.history") / "migrations"))


def load_migrations(directory: Path | None = None) -> list[Migration]:
    folder = directory or migrations_dir()
    found = []
    for path in sorted(folder.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise ValueError(f"migration file {path.name} does not look like NNN_name.sql")
        found.append(Migration(int(match[1]), match[2], path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration numbers in {folder}")
    return found


def applied_versions(store: HistoryStore) -> dict[int, str]:
    _, rows = store.query(f"SELECT version, checksum FROM {MIGRATIONS_TABLE} FINAL")
    return {int(v): str(c) for v, c in rows}


def _apply_grants(store: HistoryStore, migration: Migration) -> bool:
    """Roles and grants; False (not recorded, retried next time) when the server refuses them.

    Grants are the deployment's business: a server where this user may not manage access,
    or where the users do not exist yet, keeps its tables and views; the warning says why.
    """
    try:
        for statement in migration.statements():
            store.command(statement)
    except Exception as exc:
        text = str(exc)
        if not any(marker in text for marker in _ACCESS_REFUSALS):
            raise
        log.warning(
            "migration %03d_%s (grants) not applied: %s; run `marchwarden migrate` as a "
            "ClickHouse administrator once the users exist",
            migration.version,
            migration.name,
            first_line(exc),
        )
        return False
    return True


def migrate(store: HistoryStore, directory: Path | None = None) -> list[Migration]:
    """Apply every migration not yet recorded; returns the ones applied now."""
    store.command(
        f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (version UInt32, name String, "
        "checksum String, applied_at DateTime64(3, 'UTC')) "
        "ENGINE = ReplacingMergeTree ORDER BY version"
    )
    done = applied_versions(store)
    applied = []
    for migration in load_migrations(directory):
        if migration.requires_access_control and not store.supports_access_control:
            # Not recorded: the same history moved to a server gets its grants there.
            log.debug(
                "migration %03d_%s skipped: no access control", migration.version, migration.name
            )
            continue
        if migration.version in done:
            if done[migration.version] != migration.checksum:
                log.warning(
                    "migration %03d_%s changed after it was applied (checksum %s, recorded %s)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                    done[migration.version],
                )
            continue
        if migration.requires_access_control:
            if not _apply_grants(store, migration):
                continue
        else:
            for statement in migration.statements():
                store.command(statement)
        store.insert(
            MIGRATIONS_TABLE,
            [(migration.version, migration.name, migration.checksum, datetime.now(UTC))],
            ["version", "name", "checksum", "applied_at"],
        )
        log.info("applied migration %03d_%s", migration.version, migration.name)
        applied.append(migration)
    return applied
