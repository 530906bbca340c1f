"""Migrations apply on chDB, twice without change, and history queries are read-only."""

from __future__ import annotations

import pytest

from marchwarden.history.migrations import MIGRATIONS_TABLE, load_migrations, migrate
from marchwarden.history.store import HistoryStore, ReadOnlyViolation


def test_migrations_apply_once_and_are_recorded(chdb_store: HistoryStore) -> None:
    migrate(chdb_store)
    again = migrate(chdb_store)
    assert again == []
    _, rows = chdb_store.query(
        f"SELECT version, name FROM {MIGRATIONS_TABLE} FINAL ORDER BY version"
    )
    assert [(int(v), n) for v, n in rows] == [(m.version, m.name) for m in load_migrations()]
    _, tables = chdb_store.query("SHOW TABLES")
    names = {t for (t,) in tables}
    assert {"events", "alerts", "dead_letters", "events_hourly"} <= names


def test_migration_files_are_numbered_without_gaps() -> None:
    versions = [m.version for m in load_migrations()]
    assert versions == list(range(1, len(versions) + 1))


def test_events_table_has_the_documented_columns(chdb_store: HistoryStore) -> None:
    migrate(chdb_store)
    _, rows = chdb_store.query("SELECT name FROM system.columns WHERE table = 'events'")
    columns = {c for (c,) in rows}
    assert {
        "event_id",
        "event_type",
        "occurred_at",
        "section_id",
        "persons",
        "payload",
        "topic",
        "partition",
        "offset",
        "ingested_at",
    } <= columns


@pytest.mark.parametrize(
    "statement",
    ["DROP TABLE events", "INSERT INTO dead_letters (topic) VALUES ('x')", "TRUNCATE TABLE alerts"],
)
def test_read_only_queries_cannot_write(chdb_store: HistoryStore, statement: str) -> None:
    migrate(chdb_store)
    with pytest.raises(ReadOnlyViolation, match="read-only"):
        chdb_store.query(statement, readonly=True)
    _, tables = chdb_store.query("EXISTS TABLE events")
    assert tables == [(1,)]


def test_a_refused_write_does_not_leave_the_store_read_only(chdb_store: HistoryStore) -> None:
    migrate(chdb_store)
    with pytest.raises(ReadOnlyViolation):
        chdb_store.query("DROP TABLE dead_letters", readonly=True)
    chdb_store.insert(
        "dead_letters",
        [("t", 0, 1, b"", b"x", 1, "empty", "test", "2024-01-01 00:00:00")],
        [
            "topic",
            "partition",
            "offset",
            "key",
            "value",
            "value_size",
            "kind",
            "reason",
            "received_at",
        ],
    )
    _, rows = chdb_store.query("SELECT count() FROM dead_letters WHERE topic = 't'")
    assert rows[0][0] >= 1
