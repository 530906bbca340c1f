"""One contract, every history backend: chDB in-process, the embedded gateway, ClickHouse HTTP.

The tests are written once, in `HistoryContract`; each subclass supplies its backend through
`store_factory`. Whatever the backend, the store takes the same rows and gives them back the
same, deduplicates a retried insert, and raises the same typed errors (history/errors.py):
HistoryRefused with ClickHouse's code, ReadOnlyViolation, HistoryUnavailable.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from marchwarden.engine.outputs import Record
from marchwarden.engine.picture_engine import PictureEngine
from marchwarden.history.errors import GatewaySecrets, HistoryRefused
from marchwarden.history.migrations import migrate
from marchwarden.history.rows import (
    ALERT_COLUMNS,
    COMMAND_COLUMNS,
    DEAD_LETTER_COLUMNS,
    EVENT_COLUMNS,
    alert_row,
    command_row,
    dead_letter_row,
    event_row,
)
from marchwarden.history.store import HistoryStore, HistoryUnavailable, ReadOnlyViolation
from marchwarden.reference import load_reference
from marchwarden.settings import RuleSettings
from tests.domain.factories import command_doc, encode, event_doc
from tests.support.stack import GATEWAY_ENV, ClickHouseServer, free_port, running_gateway

StoreFactory = Callable[[], HistoryStore]
T0 = datetime(2024, 7, 18, 20, tzinfo=UTC)
SECRETS = GatewaySecrets(
    GATEWAY_ENV["MARCHWARDEN_HISTORY_READ_SECRET"], GATEWAY_ENV["MARCHWARDEN_HISTORY_WRITE_SECRET"]
)


def engine_outputs(section: str) -> PictureEngine:
    """An engine that took a surge on `section`, a refused record and an operator command."""
    engine = PictureEngine(load_reference(), RuleSettings(), wall_clock=lambda: T0.timestamp())
    docs = [
        event_doc("crossing_attempt", section, T0 - timedelta(minutes=50 - i), persons=2)
        for i in range(40)
    ]
    records = [
        Record("border.crossings", 0, i, section.encode(), encode(d)) for i, d in enumerate(docs)
    ]
    records.append(Record("border.crossings", 0, 99, b"k", b"\x00 not json"))
    engine.ingest(records)
    engine.evaluate()
    alert = next(iter(engine.alerts_by_id))
    command = command_doc(alert, issued_at=T0)
    engine.apply_command_record(Record("ops.commands", 0, 7, alert.encode(), encode(command)))
    return engine


def as_bytes(value: object) -> bytes:
    """A String column's value: bytes or text, as the driver decodes it."""
    return value if isinstance(value, bytes) else str(value).encode()


class HistoryContract:
    """What every history backend must do; subclasses provide `store_factory`."""

    @pytest.fixture
    def store(self, store_factory: StoreFactory) -> Iterator[HistoryStore]:
        store = store_factory()
        migrate(store)
        try:
            yield store
        finally:
            store.close()

    def test_every_table_takes_its_rows_and_gives_them_back(self, store: HistoryStore) -> None:
        section = "LV-BY-02"
        engine = engine_outputs(section)
        out = engine.drain()
        assert out.events and out.alerts and out.dead_letters and out.commands
        recorded = datetime.now(UTC).replace(microsecond=0)
        store.insert("events", [event_row(e) for e in out.events], EVENT_COLUMNS)
        store.insert("alerts", [alert_row(a, recorded) for a in out.alerts], ALERT_COLUMNS)
        store.insert(
            "dead_letters", [dead_letter_row(d) for d in out.dead_letters], DEAD_LETTER_COLUMNS
        )
        store.insert("commands", [command_row(c) for c in out.commands], COMMAND_COLUMNS)

        ids = [e.event.event_id for e in out.events]
        _, events = store.query(
            "SELECT event_id, occurred_at, persons, late, payload FROM events "
            "WHERE event_id IN {ids:Array(UUID)} ORDER BY occurred_at",
            {"ids": ids},
        )
        # DateTime64 columns hold UTC; every backend gives them back as naive UTC times.
        assert [(str(r[0]), r[1], r[2], r[3]) for r in events] == [
            (e.event.event_id, e.event.occurred_at.replace(tzinfo=None), 2, 0) for e in out.events
        ]
        _, alerts = store.query(
            "SELECT alert_id, version, status, org_payloads FROM alerts "
            "WHERE alert_id = {a:String} ORDER BY version",
            {"a": out.alerts[0].alert_id},
        )
        assert [(r[0], r[1], r[2]) for r in alerts] == [
            (a.alert_id, a.version, a.status)
            for a in out.alerts
            if a.alert_id == out.alerts[0].alert_id
        ]
        assert isinstance(alerts[0][3], dict)
        (letter,) = out.dead_letters
        _, letters = store.query(
            "SELECT key, value, kind FROM dead_letters WHERE topic = {t:String} AND offset = 99",
            {"t": letter.topic},
        )
        assert [(as_bytes(r[0]), as_bytes(r[1]), r[2]) for r in letters][-1] == (
            b"k",
            b"\x00 not json",
            letter.kind,
        )
        (done,) = out.commands
        _, commands = store.query(
            "SELECT command_id, outcome FROM commands WHERE command_id = {c:String}",
            {"c": done.command.command_id},
        )
        assert commands == [(done.command.command_id, done.outcome)]

    async def test_the_async_calls_see_the_same_store(self, store: HistoryStore) -> None:
        marker = uuid.uuid4().hex
        await store.acommand(
            f"CREATE TABLE IF NOT EXISTS contract_{marker} (n UInt32) ENGINE = MergeTree ORDER BY n"
        )
        await store.ainsert(f"contract_{marker}", [(1,), (2,)], ["n"])
        _, rows = await store.aquery(f"SELECT sum(n) FROM contract_{marker}", readonly=True)
        assert rows == [(3,)]
        store.command(f"DROP TABLE contract_{marker}")

    def test_a_retried_insert_with_the_same_token_is_written_once(
        self, store: HistoryStore
    ) -> None:
        marker = uuid.uuid4().hex
        table = f"contract_{marker}"
        store.command(
            f"CREATE TABLE {table} (n UInt32) ENGINE = MergeTree ORDER BY n "
            "SETTINGS non_replicated_deduplication_window = 100"
        )
        store.insert(table, [(1,), (2,)], ["n"], dedup_token=f"t-{marker}")
        store.insert(table, [(1,), (2,)], ["n"], dedup_token=f"t-{marker}")
        store.insert(table, [(1,), (2,)], ["n"], dedup_token=f"u-{marker}")
        assert store.query(f"SELECT count() FROM {table}")[1] == [(4,)]
        store.command(f"DROP TABLE {table}")

    def test_a_retry_reaches_the_rollups_once_after_a_first_attempt_stopped_halfway(
        self, store: HistoryStore
    ) -> None:
        rows = [event_row(e) for e in engine_outputs("PL-BY-01").drain().events]
        ids = [str(row[0]) for row in rows]
        token = f"contract-{uuid.uuid4().hex}"

        def rollups() -> tuple[int, int]:
            where = "WHERE section_id = 'PL-BY-01' AND event_type = 'crossing_attempt'"
            daily = store.query(f"SELECT sum(events) FROM events_daily {where}")[1][0][0]
            hourly = store.query(f"SELECT sum(events) FROM events_hourly {where}")[1][0][0]
            return int(daily or 0), int(hourly or 0)

        before = rollups()
        # The first attempt writes `events` and stops before the views (they are detached).
        store.command("DETACH TABLE events_daily_mv")
        store.command("DETACH TABLE events_hourly_mv")
        try:
            store.insert("events", rows, EVENT_COLUMNS, dedup_token=token)
        finally:
            store.command("ATTACH TABLE events_daily_mv")
            store.command("ATTACH TABLE events_hourly_mv")
        assert rollups() == before
        store.insert("events", rows, EVENT_COLUMNS, dedup_token=token)  # the retry
        store.insert("events", rows, EVENT_COLUMNS, dedup_token=token)  # and one more
        assert rollups() == (before[0] + len(rows), before[1] + len(rows))
        _, counted = store.query(
            "SELECT count() FROM events WHERE event_id IN {ids:Array(UUID)}", {"ids": ids}
        )
        assert counted == [(len(rows),)]

    def test_a_refusal_is_typed_with_clickhouses_code(self, store: HistoryStore) -> None:
        with pytest.raises(HistoryRefused) as missing:
            store.query("SELECT * FROM no_such_table_anywhere")
        assert missing.value.code == 60  # UNKNOWN_TABLE
        with pytest.raises(HistoryRefused) as syntax:
            store.query("SELEKT 1")
        assert syntax.value.code == 62  # SYNTAX_ERROR
        with pytest.raises(HistoryRefused):
            store.insert("events", [("not-a-uuid",)], ["event_id"])
        assert store.query("SELECT 1")[1] == [(1,)], "the store still works"

    def test_a_read_that_writes_is_refused_and_writes_still_work(self, store: HistoryStore) -> None:
        marker = uuid.uuid4().hex
        with pytest.raises(ReadOnlyViolation):
            store.query(f"CREATE TABLE ro_{marker} (n UInt8) ENGINE = Memory", readonly=True)
        assert int(store.command(f"EXISTS TABLE ro_{marker}")) == 0
        store.command(f"CREATE TABLE rw_{marker} (n UInt8) ENGINE = Memory")
        store.insert(f"rw_{marker}", [(7,)], ["n"])
        assert store.query(f"SELECT n FROM rw_{marker}")[1] == [(7,)]
        store.command(f"DROP TABLE rw_{marker}")


class TestChdb(HistoryContract):
    """chDB in the test process: the session's one chDB engine (one per process)."""

    @pytest.fixture
    def store(self, chdb_store: HistoryStore) -> HistoryStore:
        migrate(chdb_store)
        return chdb_store


class TestGateway(HistoryContract):
    """The embedded default: `history serve` (chDB) behind the gateway, over loopback HTTP."""

    @pytest.fixture(scope="class")
    def address(self, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
        with running_gateway(tmp_path_factory.mktemp("contract-gateway")) as address:
            yield address

    @pytest.fixture
    def store_factory(self, address: str) -> StoreFactory:
        return lambda: HistoryStore(f"mwhistory://{address}", gateway=SECRETS)

    def test_a_gateway_that_is_not_there_is_unavailable(self) -> None:
        store = HistoryStore(f"mwhistory://127.0.0.1:{free_port()}", gateway=SECRETS)
        with pytest.raises(HistoryUnavailable):
            store.query("SELECT 1")
        store.close()


class TestClickHouseHttp(HistoryContract):
    """The production path: clickhouse-connect over HTTP with a user and a password."""

    @pytest.fixture
    def store_factory(self, clickhouse_server: ClickHouseServer) -> StoreFactory:
        server = clickhouse_server
        return lambda: HistoryStore(server.url, server.user, server.password)

    def test_a_server_that_is_not_there_is_unavailable(self, tmp_path: Path) -> None:
        store = HistoryStore(f"http://127.0.0.1:{free_port()}", "nobody", "x")
        with pytest.raises(HistoryUnavailable):
            store.query("SELECT 1")
        store.close()
