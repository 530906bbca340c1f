"""The picture worker: batched ingest of the border topics into the engine, rules, outputs.

Faust's per-event consumer path costs ~250 us per message, which caps an agent near 4k
events/s. The border topics carry the volume, so this service reads them with aiokafka in
batches (getmany) inside the Faust worker and hands whole batches to the pure engine; Faust
agents carry the low-volume operator commands. Offsets are committed only after the
history sink has written the batch, so a crash replays at most the unwritten tail, which
event-id deduplication (rebuilt from history on start) makes harmless.

History is written by its own task: ingest and the rules never wait on the store, except when
more than `sink_max_pending_rows` rows are waiting to be written (memory stays bounded, and
/health says history lags). Any unexpected failure of a task is a crash of `up` (exit 3).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import IllegalStateError, KafkaError
from aiokafka.partitioner import murmur2
from mode import Service

from marchwarden.access.identity import ORGANISATIONS
from marchwarden.access.tlp import shared_and_organisation_views
from marchwarden.brokerauth import kafka_client_options
from marchwarden.contracts.deadletters import DeadLetter
from marchwarden.engine.outputs import Outputs
from marchwarden.engine.picture_engine import PictureEngine
from marchwarden.history.rebuild import rebuild_engine
from marchwarden.history.sink import HistorySink, WriteAbandoned
from marchwarden.history.store import HistoryStore
from marchwarden.ingest.alignment import EventTimeAligner
from marchwarden.ingest.indicator_routes import indicator_routes
from marchwarden.settings import Settings
from marchwarden.supervision import Supervisor
from marchwarden.topics import organisation_alert_topic

log = logging.getLogger(__name__)


def partition_of(key: str, partitions: int) -> int:
    """Kafka's default partitioner (murmur2), as every producer keyed by section_id uses."""
    return int((murmur2(key.encode()) & 0x7FFFFFFF) % partitions)


def sections_for_partitions(
    sections: Iterable[str], partitions: set[int], partition_count: int
) -> set[str]:
    return {s for s in sections if partition_of(s, partition_count) in partitions}


T = TypeVar("T")


def crash_is_fatal(
    method: Callable[[PictureWorker], Awaitable[T]],
) -> Callable[[PictureWorker], Awaitable[T | None]]:
    """A task that fails unexpectedly stops `up` with the reason, instead of dying silently."""

    @functools.wraps(method)
    async def guarded(self: PictureWorker) -> T | None:
        try:
            return await method(self)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("%s crashed", method.__name__)
            self.stack_supervisor.fail(
                f"{method.__name__.strip('_')} crashed: {type(exc).__name__}: {exc}"
            )
            return None

    return guarded


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, worker: PictureWorker) -> None:
        self.worker = worker

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self.worker.checkpoint()

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self.worker.take_ownership(assigned)


class PictureWorker(Service):
    """Consumes the border topics and routed commands, runs the engine, writes the outputs."""

    def __init__(
        self,
        settings: Settings,
        engine: PictureEngine,
        store: HistoryStore,
        supervisor: Supervisor | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.engine = engine
        self.store = store
        self.stack_supervisor = supervisor or Supervisor()
        self.sink = HistorySink(
            store,
            settings.sink_max_rows,
            settings.sink_max_interval_s,
            settings.history_max_partitions_per_insert,
            settings.dead_letter_max_bytes,
        )
        self.topics = settings.topics
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self.pending_offsets: dict[TopicPartition, int] = {}
        # Indicator copies for the other sections they name: (section key, raw value).
        self.pending_routes: list[tuple[str, bytes]] = []
        # Held while the engine changes (a batch, a timer run, a rebuild): never across I/O
        # to the history store, so neither ingest nor the rules wait on history.
        self.flush_lock = asyncio.Lock()
        # One history write at a time, so offsets are committed in order.
        self.write_lock = asyncio.Lock()
        self.write_now = asyncio.Event()
        self.stopping = asyncio.Event()
        self.ready = asyncio.Event()
        self.assigned: set[TopicPartition] = set()
        self.last_rebuild: dict[str, Any] = {}
        self.batches = 0
        self.aligner = EventTimeAligner(settings.align_slack_s)
        self.next_offset: dict[TopicPartition, int] = {}
        self.paused: set[TopicPartition] = set()
        self.last_delivery = time.monotonic()
        # Observations for /health (monotonic times).
        self.lag = 0
        self.last_progress_at = time.monotonic()
        self.timer_started_at: float | None = None
        self.timer_finished_at: float | None = None
        self.history_rejected = 0

    # ------------------------------------------------------------------ lifecycle
    async def on_start(self) -> None:
        s = self.settings
        self.producer = AIOKafkaProducer(
            bootstrap_servers=s.bootstrap_servers,
            linger_ms=5,
            acks="all",
            **kafka_client_options(s),
        )
        await self.producer.start()
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=s.bootstrap_servers,
            group_id=f"{s.app_id}-picture",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=int(s.session_timeout_s * 1000),
            heartbeat_interval_ms=int(s.heartbeat_interval_s * 1000),
            fetch_max_wait_ms=s.ingest_poll_ms,
            # Bounds a batch: getmany hands out everything fetched (see _consume).
            max_partition_fetch_bytes=1024 * 1024,
            isolation_level="read_committed",
            **kafka_client_options(s),
        )
        await self.consumer.start()
        self.consumer.subscribe(
            topics=[*self.topics.ingest(), *self.topics.internal_inputs()],
            listener=_Rebalance(self),
        )

    async def on_stop(self) -> None:
        # Whatever happens below, the process ends within the deadline.
        self.stack_supervisor.arm_deadline(self.settings.shutdown_deadline_s)
        # Stopping goes on whatever fails, but nothing fails silently: history gets a
        # bounded time for the last rows; if it does not take them, their offsets are not
        # committed and they are read again from the broker on the next start (said here,
        # and `up` exits 1).
        wait_s = self.settings.shutdown_deadline_s / 2
        try:
            await asyncio.wait_for(self.checkpoint(), wait_s)
        except (TimeoutError, WriteAbandoned) as exc:
            log.error(
                "history did not accept the last rows within %.0f s of the stop; their offsets "
                "are not committed, so they are replayed on the next start",
                wait_s,
            )
            self.crash_reason = exc
        except Exception as exc:
            log.exception("last checkpoint on stop failed; the tail will be replayed on start")
            self.crash_reason = exc
        finally:
            self.stopping.set()  # a write still retrying gives up now
        for client in (self.consumer, self.producer):
            if client is None:
                continue
            try:
                await client.stop()
            except (KafkaError, OSError) as exc:
                log.warning("closing %s on stop failed: %s", type(client).__name__, exc)

    async def take_ownership(self, assigned: list[TopicPartition]) -> None:
        """Own the sections of the assigned partitions and rebuild their state from history."""
        self.assigned = set(assigned)
        self.aligner = EventTimeAligner(self.settings.align_slack_s)
        self.next_offset = {}
        self.paused = set()
        partitions = {tp.partition for tp in assigned if tp.topic == self.topics.crossings}
        owned = sections_for_partitions(self.engine.country, partitions, self.partition_count())
        async with self.flush_lock:
            self.last_rebuild = await rebuild_engine(self.engine, self.store, owned)
        log.info("own %d partitions, %d sections", len(assigned), len(owned))
        self.ready.set()

    # ------------------------------------------------------------------ processing
    @Service.task
    @crash_is_fatal
    async def _consume(self) -> None:
        assert self.consumer is not None
        consumer = self.consumer
        while not self.should_stop:
            if self.sink.pending >= self.settings.sink_max_pending_rows:
                # History is behind: hold ingest until the writer catches up (bounded memory).
                self.write_now.set()
                await asyncio.sleep(0.05)
                continue
            try:
                # Everything fetched, not a record count: with a limit, aiokafka drains its
                # buffers partition after partition and leaves the rest for the next call,
                # so a sparse partition fetched with weeks of event time (LT-RU-01's
                # crossings in baltic-2024) was applied whole before the report of another
                # partition fetched with it (the indicator's clear), and an indicator expired
                # or never raised its alert, depending on where the limit fell. Whatever was
                # fetched together is applied together, merged by event time.
                batch = await consumer.getmany(timeout_ms=self.settings.ingest_poll_ms)
            except (KafkaError, OSError):
                log.exception("fetch failed; retrying")
                await asyncio.sleep(0.5)
                continue
            # The lock keeps processing out of a rebuild: aiokafka runs the rebalance
            # listener in its own task, and a batch applied to a half-rebuilt engine would
            # miss the deduplication keys being loaded from history.
            async with self.flush_lock:
                if batch:
                    self.process(batch)
                    self.batches += 1
                    if self.batches % 8 == 0:
                        self.engine.prune_if_large()
                    self.last_delivery = time.monotonic()
                await self.send_routes()
                await self.publish(self.engine.drain())
            await self.align()
            self.observe_lag()
            if self.sink.due():
                self.write_now.set()

    def observe_lag(self) -> None:
        """Messages on the broker not yet processed; progress is any batch, or no lag."""
        consumer = self.consumer
        if consumer is None:
            return
        lag = 0
        for tp in self.assigned:
            highwater = consumer.highwater(tp)
            position = self.next_offset.get(tp)
            if highwater is not None and position is not None:
                lag += max(0, highwater - position)
        self.lag = lag
        if lag == 0 or time.monotonic() - self.last_delivery < 1.0:
            self.last_progress_at = time.monotonic()

    @Service.task
    @crash_is_fatal
    async def _write_history(self) -> None:
        """Write buffered history rows when due, off the ingest path."""
        while not self.should_stop:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.write_now.wait(), self.settings.sink_max_interval_s / 4)
            self.write_now.clear()
            if self.sink.due():
                try:
                    await self.checkpoint()
                except WriteAbandoned:
                    return

    def process(self, batch: dict[TopicPartition, list[Any]]) -> None:
        commands = self.topics.routed_commands
        # aiokafka's records already carry topic, partition, offset, key and value: the
        # engine reads them as they are (no copy per message). The input partitions of the
        # batch are applied together, merged by event time (see ingest_partitions).
        inputs: dict[TopicPartition, list[Any]] = {}
        for tp, messages in batch.items():
            if not messages:
                continue
            if tp.topic == commands:
                for record in messages:
                    self.engine.apply_command_record(record)
            elif tp.topic == self.topics.routed_indicators:
                for record in messages:
                    self.engine.apply_routed_indicator(record)
            else:
                if tp.topic == self.topics.indicators:
                    self.collect_routes(messages)
                inputs[tp] = messages
            self.pending_offsets[tp] = messages[-1].offset + 1
            self.next_offset[tp] = messages[-1].offset + 1
        for tp, head in self.engine.ingest_partitions(inputs).items():
            self.aligner.advanced(tp, head)
        self.engine.evaluate()

    def partition_count(self) -> int:
        known = self.consumer.partitions_for_topic(self.topics.crossings) if self.consumer else None
        return len(known) if known else self.settings.partitions

    def collect_routes(self, messages: list[Any]) -> None:
        """Queue copies of the indicators that name sections of other partitions."""
        count = self.partition_count()
        for record in messages:
            for key in indicator_routes(
                record.value, self.engine.max_bytes, lambda s: partition_of(s, count)
            ):
                self.pending_routes.append((key, record.value))

    async def send_routes(self) -> None:
        """Send the queued indicator copies (before the batch's offsets can be committed)."""
        if not self.pending_routes:
            return
        producer = self.producer
        assert producer is not None
        routes, self.pending_routes = self.pending_routes, []
        for key, value in routes:
            await producer.send(self.topics.routed_indicators, value, key=key.encode())

    async def align(self) -> None:
        """Pause input partitions that run ahead in event time (see ingest.alignment)."""
        consumer = self.consumer
        if consumer is None or not self.assigned:
            return
        internal = self.topics.internal_inputs()
        inputs = [tp for tp in self.assigned if tp.topic not in internal]
        pending = []
        for tp in inputs:
            highwater = consumer.highwater(tp)
            if highwater is None:
                if tp not in self.next_offset:
                    pending.append(tp)
                continue
            position = self.next_offset.get(tp)
            if position is None:
                try:
                    position = await consumer.position(tp)
                except IllegalStateError:  # the partition moved in a rebalance
                    continue
            if position < highwater:
                pending.append(tp)
        wanted = self.aligner.to_pause(pending, inputs)
        # Never stall: if paused partitions wait on one that delivers nothing (its leader
        # is down, say), give up on alignment after a few seconds, as Kafka Streams does.
        if wanted and time.monotonic() - self.last_delivery > self.settings.align_max_wait_s:
            wanted = set()
        if wanted != self.paused:
            resume = self.paused - wanted
            pause = wanted - self.paused
            if resume:
                consumer.resume(*resume)
            if pause:
                consumer.pause(*pause)
            self.paused = wanted

    async def publish(self, outputs: Outputs) -> None:
        """Send alert states and dead letters to their topics, and queue them for history."""
        if not outputs:
            return
        producer = self.producer
        assert producer is not None
        for alert in outputs.alerts:
            # TLP: the shared topic carries what every organisation may see; each
            # organisation's own topic carries its view (more where it originated a source);
            # the internal one the full state, for the workers' alert board.
            key = alert.section_id.encode()
            await producer.send(self.topics.alerts_full, alert.model_dump_json().encode(), key=key)
            shared, differing = shared_and_organisation_views(alert)
            await producer.send(self.topics.alerts, shared.model_dump_json().encode(), key=key)
            for organisation in ORGANISATIONS:
                view = differing.get(organisation, shared)
                await producer.send(
                    organisation_alert_topic(self.settings, organisation),
                    view.model_dump_json().encode(),
                    key=key,
                )
            log.info(
                "alert %s %s at %s on %s",
                alert.alert_id,
                alert.status,
                alert.level,
                alert.section_id,
            )
        for letter in outputs.dead_letters:
            # Keyed by source partition, so dead letters keep their source order.
            await producer.send(
                self.topics.deadletter,
                letter.model_dump_json().encode(),
                key=f"{letter.topic}/{letter.partition}".encode(),
            )
            log.warning(
                "dead letter from %s[%d]@%d: %s",
                letter.topic,
                letter.partition,
                letter.offset,
                letter.reason,
            )
        self.sink.add(outputs)

    async def checkpoint(self) -> None:
        """Write history up to now, then commit the offsets it covers (at-least-once).

        Raises WriteAbandoned when stopping while history cannot be written: the offsets
        are then not committed, and the broker delivers those messages again.
        """
        async with self.write_lock:
            async with self.flush_lock:
                await self.send_routes()
                await self.publish(self.engine.drain())
                snapshot = self.sink.take()
                offsets, self.pending_offsets = self.pending_offsets, {}
            if snapshot:
                try:
                    refused = await self.sink.write(snapshot, self.stopping)
                except WriteAbandoned:
                    # Not written: neither are these offsets committed.
                    for tp, offset in offsets.items():
                        self.pending_offsets.setdefault(tp, offset)
                    raise
                await self.publish_refused(refused)
            if self.producer is not None:
                await self.producer.flush()
            if offsets and self.consumer is not None:
                try:
                    await self.consumer.commit(offsets)
                except KafkaError as exc:  # a rebalance may have moved the partition
                    log.warning("offset commit failed (%s); the batch may be replayed", exc)

    async def publish_refused(self, letters: list[DeadLetter]) -> None:
        """Rows history refused on their own: already in its dead_letters table, now on the topic."""
        if not letters or self.producer is None:
            return
        self.history_rejected += len(letters)
        for letter in letters:
            await self.producer.send(
                self.topics.deadletter,
                letter.model_dump_json().encode(),
                key=f"{letter.topic}/{letter.partition}".encode(),
            )
            log.warning(
                "dead letter from history for %s[%d]@%d: %s",
                letter.topic,
                letter.partition,
                letter.offset,
                letter.reason,
            )

    @Service.timer(1.0)
    @crash_is_fatal
    async def _evaluate_quiet_sections(self) -> None:
        """Rules also run on a timer so quiet sections resolve surges and expire indicators."""
        if not self.ready.is_set():
            return
        self.timer_started_at = time.monotonic()
        async with self.flush_lock:
            self.engine.evaluate(everything=True)
            await self.publish(self.engine.drain())
        self.timer_finished_at = time.monotonic()

    @Service.timer(60.0)
    async def _prune(self) -> None:
        started = time.perf_counter()
        async with self.flush_lock:
            self.engine.prune()
        log.debug("pruned state in %.3f s", time.perf_counter() - started)
