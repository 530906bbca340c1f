"""POST /events: border events over HTTP for patrol apps and sensors that do not speak Kafka.

A bounded batch (a JSON array) is checked with the same decoder the ingest consumer uses;
each accepted event goes to its topic keyed by section, exactly as a Kafka producer would
send it, and each refused one is dead-lettered like a bad Kafka message. The answer says,
per event by its index in the batch, where it was stored or why it was refused.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from marchwarden.contracts.deadletters import DeadLetter
from marchwarden.contracts.decoding import Rejection, decode_event
from marchwarden.contracts.events import CrossingAttempt, Indicator, SensorHeartbeat, TurnBack
from marchwarden.engine.picture_engine import FUTURE_SKEW_S
from marchwarden.screen.bodies import BodyError, read_json
from marchwarden.screen.visibility import Viewer, event_refusal, viewer_of
from marchwarden.settings import Settings
from marchwarden.simulator.producer import topic_for

log = logging.getLogger(__name__)

HTTP_SOURCE = "http:/events"
"""The `topic` of a dead letter refused at POST /events (its offset: see dead_letter_for)."""

Event = CrossingAttempt | TurnBack | Indicator | SensorHeartbeat


@dataclass(frozen=True, slots=True)
class Accepted:
    index: int
    event: Event
    raw: bytes


@dataclass(frozen=True, slots=True)
class Refused:
    index: int
    kind: str
    reason: str
    raw: bytes
    # Bad data is kept as a dead letter; a refusal for who sent it, or a broker that could
    # not store it, is answered only (the event itself may be fine).
    dead_letter: bool


def check_event(
    index: int, item: Any, viewer: Viewer, now: float, max_bytes: int
) -> Accepted | Refused:
    """The same checks as the ingest path, then whether this caller may report it."""
    raw = orjson.dumps(item)
    decoded = decode_event(raw, max_bytes)
    if isinstance(decoded, Rejection):
        return Refused(index, decoded.kind, decoded.reason, raw, dead_letter=True)
    if decoded.occurred_at.timestamp() > now + FUTURE_SKEW_S:
        reason = (
            f"occurred_at {decoded.occurred_at.isoformat()} is in the future "
            f"(more than {FUTURE_SKEW_S:.0f} s ahead of the wall clock)"
        )
        return Refused(index, "future", reason, raw, dead_letter=True)
    refusal = event_refusal(viewer, decoded)
    if refusal is not None:
        return Refused(index, "forbidden", refusal, raw, dead_letter=False)
    return Accepted(index, decoded, raw)


def check_batch(
    body: Any, viewer: Viewer, now: float, max_batch: int, max_bytes: int
) -> list[Accepted | Refused]:
    """Every item's verdict, in batch order; BodyError when the batch itself is refused."""
    if not isinstance(body, list):
        raise BodyError(400, "the body must be a JSON array of events")
    if not body:
        raise BodyError(400, "the batch is empty")
    if len(body) > max_batch:
        raise BodyError(413, f"{len(body)} events in one batch, over the limit of {max_batch}")
    return [check_event(i, item, viewer, now, max_bytes) for i, item in enumerate(body)]


def dead_letter_for(refused: Refused, organisation: str | None, received: datetime) -> DeadLetter:
    """A dead letter for an event refused at the HTTP door.

    There is no Kafka offset, so the offset is the receipt time in microseconds times 1000
    plus the index in the batch: unique per event, ordered, and it says when.
    """
    micros = int(received.timestamp() * 1_000_000)
    key = organisation.encode() if organisation else None
    return DeadLetter(
        topic=HTTP_SOURCE,
        partition=0,
        offset=micros * 1000 + refused.index,
        key_b64=base64.b64encode(key).decode() if key is not None else None,
        value_b64=base64.b64encode(refused.raw).decode(),
        value_size=len(refused.raw),
        kind=refused.kind,
        reason=refused.reason,
        received_at=received,
    )


class EventIntake:
    """The handler of POST /events for one worker."""

    def __init__(
        self,
        settings: Settings,
        producer: Callable[[], AIOKafkaProducer | None],
        dead_letters: Callable[[Sequence[DeadLetter]], None],
    ) -> None:
        self.settings = settings
        self.producer = producer
        self.dead_letters = dead_letters

    async def handle(self, request: web.Request) -> web.Response:
        viewer = viewer_of(request)
        if not viewer.has("reporter"):
            return web.json_response({"error": "the reporter role is required"}, status=403)
        producer = self.producer()
        if producer is None:
            return web.json_response({"error": "the worker is still starting"}, status=503)
        s = self.settings
        received = datetime.now(UTC)
        try:
            body = await read_json(request, s.events_max_body_bytes)
            verdicts = check_batch(
                body, viewer, received.timestamp(), s.events_max_batch, s.max_message_bytes
            )
        except BodyError as exc:
            return exc.response()
        accepted, refused = await self._store(producer, verdicts)
        letters = [
            dead_letter_for(r, viewer.organisation, received) for r in refused if r.dead_letter
        ]
        if letters:
            self.dead_letters(letters)
        if refused:
            log.warning(
                "POST /events from %s: %d accepted, %d refused",
                viewer.subject,
                len(accepted),
                len(refused),
            )
        answer = {
            "accepted": accepted,
            "rejected": [
                {
                    "index": r.index,
                    "kind": r.kind,
                    "reason": r.reason,
                    "dead_lettered": r.dead_letter,
                }
                for r in sorted(refused, key=lambda r: r.index)
            ],
            "errors": bool(refused),
        }
        return web.json_response(answer)

    async def _store(
        self, producer: AIOKafkaProducer, verdicts: list[Accepted | Refused]
    ) -> tuple[list[dict[str, Any]], list[Refused]]:
        """Send the accepted events and wait for the broker; a send that fails is refused."""
        refused = [v for v in verdicts if isinstance(v, Refused)]
        sent = []
        for verdict in verdicts:
            if isinstance(verdict, Accepted):
                topic = topic_for(self.settings, verdict.event.event_type)
                key = verdict.event.section_id.encode()
                try:
                    sent.append((verdict, topic, await producer.send(topic, verdict.raw, key=key)))
                except KafkaError as exc:
                    refused.append(
                        Refused(verdict.index, "not_stored", str(exc), verdict.raw, False)
                    )
        accepted = []
        for verdict, topic, future in sent:
            try:
                metadata = await future
            except KafkaError as exc:
                refused.append(Refused(verdict.index, "not_stored", str(exc), verdict.raw, False))
                continue
            accepted.append(
                {
                    "index": verdict.index,
                    "event_id": verdict.event.event_id,
                    "topic": topic,
                    "partition": metadata.partition,
                    "offset": metadata.offset,
                }
            )
        return accepted, refused
