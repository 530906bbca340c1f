"""Alert latency under load: indicator 'lit' sent -> its raised alert read from ops.alerts."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import (
    REPORTERS,
    WORKER_ENV,
    free_port,
    log,
    percentile,
    sections,
    spawn,
    stop,
    tansu,
    wait_healthy,
    worker_command,
)

TICK_S = 0.01
INDICATOR_EVERY_S = 0.5
CLEAR_AFTER_S = 0.25
CROSSING_SHARE = 0.01
CROSSINGS_PER_SECTION = 14  # per worker run: stays under the surge floor (20 an hour)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _turn_back(section: str, country: str, when: str) -> bytes:
    return (
        f'{{"event_id":"{uuid.uuid4()}","event_type":"turn_back","schema_version":1,'
        f'"occurred_at":"{when}","section_id":"{section}","reporter":"{REPORTERS[country]}",'
        f'"persons":2,"reason":"refused entry"}}'
    ).encode()


def _crossing(section: str, country: str, when: str) -> bytes:
    return (
        f'{{"event_id":"{uuid.uuid4()}","event_type":"crossing_attempt","schema_version":1,'
        f'"occurred_at":"{when}","section_id":"{section}","reporter":"{REPORTERS[country]}",'
        f'"persons":1,"outcome":"prevented","source":"patrol"}}'
    ).encode()


def _indicator(indicator_id: str, section: str, country: str, state: str) -> bytes:
    return json.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "event_type": "indicator",
            "schema_version": 1,
            "occurred_at": _now_iso(),
            "section_id": section,
            "reporter": REPORTERS[country],
            "indicator_id": indicator_id,
            "category": "military_movement",
            "level": "high",
            "state": state,
            "confidence": 0.9,
            "tlp": "amber",
        },
        separators=(",", ":"),
    ).encode()


class _Collector:
    """Reads ops.alerts from its end and stamps each raised alert's indicator ids."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.received: dict[str, float] = {}
        self.statuses: Counter[str] = Counter()
        self.stopping = False

    async def run(self, started: asyncio.Event) -> None:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        consumer = AIOKafkaConsumer(
            bootstrap_servers=f"127.0.0.1:{self.port}",
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            fetch_max_wait_ms=5,
        )
        await consumer.start()
        try:
            parts = [
                TopicPartition("ops.alerts", p)
                for p in consumer.partitions_for_topic("ops.alerts") or ()
            ]
            consumer.assign(parts)
            await consumer.seek_to_end(*parts)
            for tp in parts:
                await consumer.position(tp)
            started.set()
            while not self.stopping:
                batch = await consumer.getmany(timeout_ms=20, max_records=10_000)
                now = time.monotonic()
                for messages in batch.values():
                    for m in messages:
                        alert = json.loads(m.value)
                        self.statuses[f"{alert['rule']}:{alert['status']}"] += 1
                        if alert["status"] != "raised":
                            continue
                        for ind in alert.get("evidence", {}).get("indicator_ids", []):
                            self.received.setdefault(ind, now)
        finally:
            await consumer.stop()


async def _offer(port: int, rate: int, seconds: float, run_tag: str) -> dict[str, Any]:
    """Offer `rate` events/s for `seconds` plus an indicator pair every half second."""
    from aiokafka import AIOKafkaProducer

    secs = sections()
    producer = AIOKafkaProducer(
        bootstrap_servers=f"127.0.0.1:{port}",
        acks=1,
        linger_ms=2,
        max_batch_size=512 * 1024,
    )
    await producer.start()
    collector = _Collector(port)
    ready = asyncio.Event()
    reader = asyncio.create_task(collector.run(ready))
    await asyncio.wait_for(ready.wait(), 15)
    sent_at: dict[str, float] = {}
    clears: list[tuple[float, str, str, str]] = []
    crossings_left = dict.fromkeys((s for s, _ in secs), CROSSINGS_PER_SECTION)
    futures: list[asyncio.Future[Any]] = []
    sent = 0
    i_section = 0
    next_indicator = time.monotonic() + 0.2
    n_ind = 0
    start = time.monotonic()
    try:
        while True:
            now = time.monotonic()
            elapsed = now - start
            if elapsed >= seconds:
                break
            due = int(rate * elapsed) - sent
            when = _now_iso()
            for k in range(max(0, due)):
                section, country = secs[(sent + k) % len(secs)]
                if (sent + k) % int(1 / CROSSING_SHARE) == 0 and crossings_left[section] > 0:
                    crossings_left[section] -= 1
                    value = _crossing(section, country, when)
                    topic = "border.crossings"
                else:
                    value = _turn_back(section, country, when)
                    topic = "border.turnbacks"
                futures.append(await producer.send(topic, value, key=section.encode()))
            sent += max(0, due)
            if now >= next_indicator:
                section, country = secs[i_section % len(secs)]
                i_section += 1
                indicator_id = f"lat-{run_tag}-{rate}-{n_ind}"
                n_ind += 1
                value = _indicator(indicator_id, section, country, "lit")
                sent_at[indicator_id] = time.monotonic()
                futures.append(await producer.send("intel.indicators", value, key=section.encode()))
                clears.append((now + CLEAR_AFTER_S, indicator_id, section, country))
                next_indicator += INDICATOR_EVERY_S
            while clears and clears[0][0] <= now:
                _, indicator_id, section, country = clears.pop(0)
                value = _indicator(indicator_id, section, country, "cleared")
                futures.append(await producer.send("intel.indicators", value, key=section.encode()))
            if len(futures) > 5_000:
                await asyncio.gather(*futures)
                futures.clear()
            await asyncio.sleep(max(0.0, TICK_S - (time.monotonic() - now)))
        await producer.flush()
        await asyncio.gather(*futures)
        offered_s = time.monotonic() - start
        for _, indicator_id, section, country in clears:
            await producer.send(
                "intel.indicators",
                _indicator(indicator_id, section, country, "cleared"),
                key=section.encode(),
            )
        await producer.flush()
        # Let the last alerts arrive.
        for _ in range(100):  # at most 10 s
            if set(sent_at) <= set(collector.received):
                break
            await asyncio.sleep(0.1)
    finally:
        collector.stopping = True
        await asyncio.wait_for(reader, 10)
        await producer.stop()
    latencies = [
        (collector.received[i] - t) * 1000 for i, t in sent_at.items() if i in collector.received
    ]
    return {
        "rate": rate,
        "offered_per_s": round(sent / offered_s, 1),
        "background_events": sent,
        "indicators": len(sent_at),
        "matched": len(latencies),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p90_ms": round(percentile(latencies, 90), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "max_ms": round(max(latencies), 1) if latencies else float("nan"),
        "alert_statuses": dict(collector.statuses),
        "latencies_ms": [round(v, 1) for v in latencies],
    }


def latency_run(rates: Sequence[int], seconds: float) -> dict[str, Any]:
    """A fresh broker and worker; each rate offered in turn, from the lowest."""
    data_dir = Path(tempfile.mkdtemp(prefix="mw-bench-lat-"))
    proc = None
    tag = uuid.uuid4().hex[:6]
    out: dict[str, Any] = {"rates": {}}
    try:
        with tansu() as (port, _):
            web_port = free_port()
            proc = spawn(
                worker_command(port, data_dir, web_port), WORKER_ENV, data_dir / "worker.log"
            )
            wait_healthy(web_port, proc, timeout=120)
            time.sleep(1.0)
            for rate in rates:
                result = asyncio.run(_offer(port, rate, seconds, tag))
                out["rates"][str(rate)] = result
                log(
                    f"latency @ {rate}/s (offered {result['offered_per_s']:.0f}/s): "
                    f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, "
                    f"{result['matched']}/{result['indicators']} matched"
                )
                time.sleep(1.0)
            stop(proc)
    finally:
        stop(proc)
        shutil.rmtree(data_dir, ignore_errors=True)
    return out
