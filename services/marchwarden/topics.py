"""Create the Kafka topics Marchwarden uses, with the configured partitions and replication."""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from marchwarden.access.identity import ORGANISATIONS
from marchwarden.brokerauth import kafka_client_options
from marchwarden.settings import Settings

log = logging.getLogger(__name__)


class BrokerUnavailable(RuntimeError):
    """The broker could not be reached; the message is one line for a person."""


def organisation_alert_topic(settings: Settings, organisation: str) -> str:
    """Alert states as one organisation may see them (ops.alerts.LT-VSAT): ACL it to them."""
    return f"{settings.topics.alerts}.{organisation}"


async def _wait_until_visible(
    admin: AIOKafkaAdminClient, names: list[str], timeout_s: float
) -> None:
    """Return once the broker's metadata lists every topic with a leader for each partition.

    Apache Kafka creates topics asynchronously (the controller propagates them), so a client
    started right after `create_topics` could otherwise find them missing.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        described = await admin.describe_topics(names)
        ready = {
            t["topic"]
            for t in described
            if t.get("error_code", 0) == 0
            and t["partitions"]
            and all(p["leader"] >= 0 for p in t["partitions"])
        }
        if ready >= set(names):
            return
        if time.monotonic() >= deadline:
            log.warning("topics not yet visible after %.0f s: %s", timeout_s, set(names) - ready)
            return
        await asyncio.sleep(0.1)


async def ensure_topics(settings: Settings, timeout_s: float = 10.0) -> list[str]:
    """Create missing topics; returns the names created."""
    t = settings.topics
    names = [t.crossings, t.turnbacks, t.indicators, t.alerts, t.commands, t.deadletter]
    names.extend([t.routed_commands, t.routed_indicators, t.alerts_full])
    names.extend(organisation_alert_topic(settings, org) for org in ORGANISATIONS)
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers,
        request_timeout_ms=int(timeout_s * 1000),
        **kafka_client_options(settings),
    )
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
    except (TimeoutError, KafkaError, OSError) as exc:
        raise BrokerUnavailable(
            f"cannot reach the Kafka broker at {settings.bootstrap_servers}: "
            f"{type(exc).__name__} {exc}".strip()
        ) from exc
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            await admin.create_topics(
                [NewTopic(n, settings.partitions, settings.replication_factor) for n in missing]
            )
            log.info("created topics %s", ", ".join(missing))
            await _wait_until_visible(admin, missing, timeout_s)
        return missing
    finally:
        await admin.close()
