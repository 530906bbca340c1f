"""kill -9 of the worker, the history process, the broker or all of them, then a restart.

`up` runs with its own embedded broker. Events are sent with acks=all while the part is
killed; every event the broker acknowledged must end up in history exactly once after the
restart. With the durable broker (`up --durable-broker`: an Apache Kafka node, log on disk;
these run with --broker=kafka, where Java is at hand) nothing acknowledged may be lost. With
the default memory-only tansu the log dies with the broker: that case reports its losses as
an expected failure, with the figures, rather than hiding them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.faults import PARTS, AckLedger, EmbeddedUp, forgotten, send_acked
from tests.support.fuzz import SECTIONS
from tests.support.stack import await_until, event

EVENTS = 3000
SEEDS = {"worker": 11, "history": 12, "broker": 13, "everything": 14}
CASES = [
    # The memory broker's loss, as evidence (the tansu run).
    pytest.param("memory", "broker", id="memory-broker"),
    # The durable broker loses nothing, whatever dies.
    *(
        pytest.param("durable", part, marks=pytest.mark.kafka, id=f"durable-{part}")
        for part in (*PARTS, "everything")
    ),
]


def settled(up: EmbeddedUp) -> bool:
    status, body = up.health()
    return status == 200 and body["lag"] == 0 and body["history_rows_pending"] == 0


@pytest.mark.parametrize(("storage", "part"), CASES)
async def test_kill_9_at_a_random_point_loses_no_acknowledged_event(
    storage: str, part: str, tmp_path: Path, figures: dict[str, Any], broker_kind: str
) -> None:
    if storage == "memory" and broker_kind == "kafka":
        pytest.skip("the memory broker's figures come from the tansu run")
    rng = random.Random(SEEDS[part])
    now = datetime.now(UTC)
    docs = [
        event(
            rng.choice(("crossing_attempt", "turn_back")),
            rng.choice(SECTIONS),
            now - timedelta(seconds=rng.randint(120, 3000)),
        )
        for _ in range(EVENTS)
    ]
    up = EmbeddedUp(tmp_path / "data", durable=storage == "durable")
    first_start_s = up.start()
    ledger, stop = AckLedger(), asyncio.Event()
    sender = asyncio.create_task(send_acked(up.bootstrap, docs, ledger, stop))
    kill_after = rng.randint(100, EVENTS - 500)
    try:
        await await_until(lambda: len(ledger.acked) >= kill_after, 60, f"{kill_after} acks")
        if part == "everything":
            up.kill_all()
        else:
            up.kill(part)
        code = await asyncio.to_thread(up.wait_exit, 30)
        stop.set()
        await asyncio.wait_for(sender, 30)
        assert code != 0, "a crash never ends `up` with status 0"
        if part in ("history", "broker"):
            assert f"the {part} process is gone" in up.log(), up.log()[-2000:]
        restart_s = up.start()
        await await_until(lambda: settled(up), 120, "the restarted worker to settle")
        up.post_flush()
        in_history = {r[0] for r in up.sql("SELECT lower(toString(event_id)) FROM events")}
        [[raw, distinct]] = up.sql("SELECT count(), uniqExact(event_id) FROM events")
        [[rollup]] = up.sql("SELECT sum(events) FROM events_daily")
        lost = ledger.acked - in_history
        broker_forgot = await forgotten(up.bootstrap, ledger)
        figures[f"kill_9_{part}_{storage}"] = {
            "sent": ledger.sent,
            "acknowledged": len(ledger.acked),
            "killed_after_acks": kill_after,
            "exit_code": code,
            "in_history": len(in_history),
            "lost": len(lost),
            "broker_forgot_acknowledged": len(broker_forgot),
            "duplicated_in_history": raw - distinct,
            "rollup_minus_distinct": rollup - distinct,
            "first_start_s": round(first_start_s, 2),
            "restart_to_healthy_s": round(restart_s, 2),
        }
        assert raw == distinct and rollup == distinct, "an event counted twice in history"
        assert lost <= broker_forgot, "an acknowledged event still in the log is not in history"
        if lost and storage == "memory":
            pytest.xfail(
                f"memory-only broker: {len(lost)} acknowledged events died with it "
                f"({len(broker_forgot)} acknowledged events gone from its log after the restart; "
                "issue 9 point 6)"
            )
        assert not lost
        assert up.stop() == 0
    finally:
        stop.set()
        up.stop()


async def test_sigterm_stops_everything_within_10_s_even_with_history_frozen(
    tmp_path: Path, figures: dict[str, Any]
) -> None:
    """The history process is stopped (SIGSTOP): writes hang, /health says so, SIGTERM still ends it."""
    up = EmbeddedUp(tmp_path / "data", extra_env={"MARCHWARDEN_HEALTH__HISTORY_LAG_S": "2"})
    up.start()
    history = up.pid_of("history")
    broker = up.pid_of("broker")
    os.kill(history, signal.SIGSTOP)
    try:
        now = datetime.now(UTC)
        docs = [
            event("crossing_attempt", "LT-BY-01", now - timedelta(seconds=i)) for i in range(50)
        ]
        ledger, stop = AckLedger(), asyncio.Event()
        await send_acked(up.bootstrap, docs, ledger, stop)
        answer = await await_until(
            lambda: (lambda h: h if h[0] == 503 else None)(up.health()),
            60,
            "/health to report the frozen history",
        )
        assert any("history" in reason for reason in answer[1]["reasons"]), answer
        assert up.process is not None
        started = time.monotonic()
        up.process.send_signal(signal.SIGTERM)
        up.process.wait(10)
        figures["sigterm_with_history_frozen_s"] = round(time.monotonic() - started, 2)
        await await_until(
            lambda: not (alive(history) or alive(broker)), 10, "the children to be gone"
        )
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(history, signal.SIGKILL)
        up.stop()


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
