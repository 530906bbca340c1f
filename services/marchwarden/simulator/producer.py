"""Send generated events to their Kafka topics, as fast as possible or paced by event time."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sized
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from marchwarden.brokerauth import kafka_client_options
from marchwarden.settings import Settings
from marchwarden.topics import BrokerUnavailable, ensure_topics

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int | None], None]
"""Called with (events sent so far, total events or None when unknown)."""

IN_FLIGHT = 2_000
"""Delivery futures awaited in batches of this size (bounds memory, surfaces errors early)."""
PROGRESS_EVERY_S = 0.1
MAX_BATCH_BYTES = 1024 * 1024


class ProduceError(RuntimeError):
    """Producing failed; the message is one line for a person."""


def topic_for(settings: Settings, event_type: str) -> str:
    """The topic an event type is published on; ProduceError if it has none."""
    topic = settings.topics.for_event(event_type)
    if topic is None:
        raise ProduceError(f"no topic for event_type {event_type!r}")
    return topic


def encode(event: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON, the wire format of every event."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _Pacer:
    """Sleeps so that event time advances ``speed`` seconds per wall-clock second."""

    def __init__(self, speed: float) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be > 0 event seconds per wall second, got {speed}")
        self.speed = speed
        self.first_event: float | None = None
        self.wall_start = 0.0

    def delay(self, occurred_at: str) -> float:
        t = datetime.fromisoformat(occurred_at).timestamp()
        if self.first_event is None:
            self.first_event = t
            self.wall_start = time.monotonic()
            return 0.0
        due = self.wall_start + (t - self.first_event) / self.speed
        return due - time.monotonic()


async def produce(
    settings: Settings,
    events: Iterable[Mapping[str, Any]],
    speed: float | None = None,
    on_progress: ProgressCallback | None = None,
    *,
    create_topics: bool = True,
    timeout_s: float = 10.0,
) -> int:
    """Send every event to its topic keyed by ``section_id``; returns the number delivered.

    ``speed`` is event-time seconds per wall-clock second (3600: an hour of events per
    second); None sends as fast as the broker accepts. Missing topics are created first
    with the configured partitions. Raises ``RuntimeError`` (``BrokerUnavailable`` or
    ``ProduceError``) with a one-line message when the broker cannot be reached or refuses
    a message.
    """
    total = len(events) if isinstance(events, Sized) else None
    pacer = _Pacer(speed) if speed is not None else None
    if create_topics:
        await ensure_topics(settings, timeout_s)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        acks="all",
        linger_ms=10,
        max_batch_size=MAX_BATCH_BYTES,
        request_timeout_ms=int(timeout_s * 1000),
        **kafka_client_options(settings),
    )
    try:
        await asyncio.wait_for(producer.start(), timeout_s)
    except (TimeoutError, KafkaError, OSError) as exc:
        try:
            await producer.stop()
        except (KafkaError, OSError) as cleanup:  # the start failure below is the news
            log.debug("closing the producer after a failed start also failed: %s", cleanup)
        raise BrokerUnavailable(
            f"cannot reach the Kafka broker at {settings.bootstrap_servers}: {_one_line(exc)}"
        ) from exc
    sent = 0
    pending: list[asyncio.Future[Any]] = []
    last_report = 0.0

    async def settle() -> None:
        nonlocal sent
        try:
            await asyncio.gather(*pending)
        except (KafkaError, OSError) as exc:
            raise ProduceError(
                f"broker {settings.bootstrap_servers} refused an event after {sent} "
                f"were delivered: {_one_line(exc)}"
            ) from exc
        sent += len(pending)
        pending.clear()

    try:
        for event in events:
            if pacer is not None:
                wait = pacer.delay(str(event["occurred_at"]))
                if wait > 0:
                    await producer.flush()
                    await settle()
                    await asyncio.sleep(wait)
            topic = topic_for(settings, str(event["event_type"]))
            key = str(event["section_id"]).encode("utf-8")
            try:
                pending.append(await producer.send(topic, encode(event), key=key))
            except (KafkaError, OSError) as exc:
                raise ProduceError(
                    f"cannot send to {topic} on {settings.bootstrap_servers}: {_one_line(exc)}"
                ) from exc
            if len(pending) >= IN_FLIGHT:
                await settle()
            if on_progress is not None:
                now = time.monotonic()
                if now - last_report >= PROGRESS_EVERY_S:
                    last_report = now
                    on_progress(sent + len(pending), total)
        await producer.flush()
        await settle()
    finally:
        for fut in pending:
            fut.cancel()
        await producer.stop()
    if on_progress is not None:
        on_progress(sent, total)
    log.info("sent %d events to %s", sent, settings.bootstrap_servers)
    return sent
