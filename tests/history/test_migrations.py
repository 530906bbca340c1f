"""Migrations apply on chDB, twice without change, and history queries are read-only."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from marchwarden.history.migrations import MIGRATIONS_TABLE, load_migrations, migrate
from marchwarden.history.store import HistoryStore, ReadOnlyViolation

T0 = datetime(2024, 7, 1, 12, tzinfo=UTC)


def test_migrations_apply_once_and_are_recorded(chdb_store: HistoryStore) -> None:
    migrate(chdb_store)
    again = migrate(chdb_store)
    assert again == []
    _, rows = chdb_store.query(
        f"SELECT version, name FROM {MIGRATIONS_TABLE} FINAL ORDER BY version"
    )
    # Grants need a ClickHouse server with access control; chDB skips (and does not record) them.
    expected = [(m.version, m.name) for m in load_migrations() if not m.requires_access_control]
    assert [(int(v), n) for v, n in rows] == expected
    assert any(m.requires_access_control for m in load_migrations())
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


SEED_ROWS: dict[str, tuple[tuple[str, ...], Callable[[], tuple[Any, ...]]]] = {
    "events": (
        ("event_id", "event_type", "occurred_at", "section_id", "persons"),
        lambda: (uuid.uuid4(), "crossing_attempt", T0, "LT-BY-01", 3),
    ),
    "alerts": (
        ("alert_id", "version", "rule", "section_id", "raised_at", "updated_at"),
        lambda: (f"surge.LT-BY-01.{uuid.uuid4().hex[:6]}", 1, "surge", "LT-BY-01", T0, T0),
    ),
    "dead_letters": (
        ("topic", "partition", "offset", "value", "kind", "reason", "received_at"),
        lambda: ("read-only-test", 0, uuid.uuid4().int % 10**9, "x", "not_json", "seed", T0),
    ),
}


def snapshot(store: HistoryStore, table: str) -> tuple[int, int]:
    """Row count and an order-independent checksum of every row of the table."""
    _, rows = store.query(f"SELECT count(), groupBitXor(cityHash64(*)) FROM {table}")
    return int(rows[0][0]), int(rows[0][1])


@pytest.mark.parametrize(
    ("statement", "target"),
    [
        ("DROP TABLE events", "events"),
        ("ALTER TABLE events DELETE WHERE 1 SETTINGS mutations_sync = 1", "events"),
        ("INSERT INTO dead_letters (topic) VALUES ('x')", "dead_letters"),
        ("TRUNCATE TABLE alerts", "alerts"),
    ],
)
def test_read_only_queries_cannot_write(
    chdb_store: HistoryStore, statement: str, target: str
) -> None:
    migrate(chdb_store)
    columns, row = SEED_ROWS[target]
    chdb_store.insert(target, [row()], columns)
    before = snapshot(chdb_store, target)
    assert before[0] >= 1, "the targeted table holds data the statement would change"

    with pytest.raises(ReadOnlyViolation, match="read-only"):
        chdb_store.query(statement, readonly=True)

    _, exists = chdb_store.query(f"EXISTS TABLE {target}")
    assert exists == [(1,)], f"{target} is still there"
    assert snapshot(chdb_store, target) == before, f"{target} is unchanged"


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
