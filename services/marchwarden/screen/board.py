"""The alert board: every alert state folded into the open alerts, at a position.

It reads the workers' internal topic of full alert states (TLP not applied), so that each
viewer's stream can show them what their organisation may see (screen/visibility.py).

One consumer per worker process (no group: every partition assigned, read from the
beginning) keeps the latest state of each open alert and the position it has read up to.
A stream's snapshot is a copy of both taken at one instant, so the stream continues from
exactly that position: the snapshot and the changes after it neither overlap nor leave a gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from mode import Service

from marchwarden.brokerauth import kafka_client_options
from marchwarden.contracts.alerts import AlertState
from marchwarden.contracts.decoding import Rejection, decode_model
from marchwarden.screen.positions import Positions
from marchwarden.settings import Settings

log = logging.getLogger(__name__)


def fold_alert(open_alerts: dict[str, AlertState], alert: AlertState) -> bool:
    """Apply one alert state to the open alerts; False when it is older than what is known.

    At-least-once delivery may publish a state twice after a crash, and a replayed old
    state must not undo a newer one, so the version decides.
    """
    known = open_alerts.get(alert.alert_id)
    if known is not None and alert.version < known.version:
        return False
    if alert.status == "resolved":
        open_alerts.pop(alert.alert_id, None)
    else:
        open_alerts[alert.alert_id] = alert
    return True


def decode_alert(value: bytes | None, max_bytes: int) -> AlertState | None:
    """An alert state from ops.alerts, or None (logged) for a message that is not one."""
    decoded = decode_model(value, AlertState, max_bytes)
    if isinstance(decoded, Rejection):
        log.warning("skipping a message on the alerts topic: %s", decoded.reason)
        return None
    return decoded


# A topic created a moment ago (by this worker's start) may not be in every broker's metadata
# yet: Apache Kafka propagates it from the controller asynchronously.
TOPIC_VISIBLE_WITHIN_S = 30.0


async def _partitions_of(consumer: AIOKafkaConsumer, topic: str, within_s: float) -> set[int]:
    """The topic's partitions from fresh cluster metadata, waiting for it to appear."""
    deadline = time.monotonic() + within_s
    while True:
        # The consumer's cached metadata is the bootstrap's; fetch the cluster's current one.
        cluster = await consumer._client.fetch_all_metadata()
        partitions = cluster.partitions_for_topic(topic)
        if partitions:
            return set(partitions)
        if time.monotonic() >= deadline:
            raise LookupError(f"topic {topic!r} does not exist (waited {within_s:.0f} s)")
        await asyncio.sleep(0.2)


async def start_alert_reader(settings: Settings, client_id: str) -> AIOKafkaConsumer:
    """A started consumer with every partition of the alerts topic assigned (no group)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id=client_id,
        fetch_max_wait_ms=200,
        **kafka_client_options(settings),
    )
    await consumer.start()
    try:
        topic = settings.topics.alerts_full
        partitions = await _partitions_of(consumer, topic, TOPIC_VISIBLE_WITHIN_S)
        consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
    except BaseException:
        await consumer.stop()
        raise
    return consumer


class AlertBoard(Service):
    """Open alerts across every section, as ops.alerts tells them, and the position read."""

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.topic = settings.topics.alerts_full
        self.open_alerts: dict[str, AlertState] = {}
        self.positions: Positions = {}
        self.ready = asyncio.Event()
        self._advanced = asyncio.Condition()  # notified after each batch read
        self.consumer: AIOKafkaConsumer | None = None
        self._target: Positions = {}

    async def on_start(self) -> None:
        self.consumer = await start_alert_reader(self.settings, f"{self.settings.app_id}-board")
        tps = sorted(self.consumer.assignment())
        await self.consumer.seek_to_beginning(*tps)
        beginning = await self.consumer.beginning_offsets(tps)
        end = await self.consumer.end_offsets(tps)
        self.positions = {tp.partition: beginning[tp] for tp in tps}
        self._target = {tp.partition: end[tp] for tp in tps}
        self._mark_ready_if_caught_up()

    async def on_stop(self) -> None:
        if self.consumer is not None:
            with contextlib.suppress(Exception):
                await self.consumer.stop()

    def snapshot(self) -> tuple[list[AlertState], Positions]:
        """The open alerts and the position they are true at (one consistent copy)."""
        return list(self.open_alerts.values()), dict(self.positions)

    def get(self, alert_id: str) -> AlertState | None:
        return self.open_alerts.get(alert_id)

    async def wait_for(self, alert_id: str, timeout: float) -> AlertState | None:
        """The open alert, waiting up to `timeout` seconds for the board to read it."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout), self._advanced:
                await self._advanced.wait_for(lambda: alert_id in self.open_alerts)
        return self.open_alerts.get(alert_id)

    async def wait_ready(self, timeout: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.ready.wait(), timeout)
        return self.ready.is_set()

    def apply(self, partition: int, offset: int, value: bytes | None) -> None:
        alert = decode_alert(value, self.settings.max_message_bytes)
        if alert is not None:
            fold_alert(self.open_alerts, alert)
        self.positions[partition] = offset + 1

    def _mark_ready_if_caught_up(self) -> None:
        if not self.ready.is_set() and all(
            self.positions.get(p, 0) >= end for p, end in self._target.items()
        ):
            log.info("alert board caught up: %d open alerts", len(self.open_alerts))
            self.ready.set()

    @Service.task
    async def _follow(self) -> None:
        while not self.should_stop:
            consumer = self.consumer
            if consumer is None:
                await asyncio.sleep(0.05)
                continue
            try:
                batch = await consumer.getmany(timeout_ms=200)
            except Exception:
                log.exception("reading the alerts topic failed; retrying")
                await asyncio.sleep(0.5)
                continue
            for tp, messages in batch.items():
                for message in messages:
                    self.apply(tp.partition, message.offset, message.value)
            if batch:
                async with self._advanced:
                    self._advanced.notify_all()
            self._mark_ready_if_caught_up()
