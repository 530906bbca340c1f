"""Broker security in production: SASL/SCRAM over TLS, the worker authenticates, no one else.

A genuine Apache Kafka node (jars from Maven Central) accepting clients only over SASL_SSL,
with a throwaway CA made by openssl; selected with --broker=kafka (`make test-kafka`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from tests.support.stack import WorkerProcess, await_until, event, free_port

pytestmark = pytest.mark.kafka


def three_free_ports() -> int:
    """A port whose next two are free too (clients, controller, the broker's own listener)."""
    from marchwarden.embedded.tansu import port_in_use

    for _ in range(50):
        port = free_port()
        if not any(port_in_use("127.0.0.1", port + d) for d in (1, 2)):
            return port
    raise AssertionError("no three consecutive free ports")


@pytest.fixture
def secure_node(tmp_path: Path) -> Iterator[object]:
    from tests.support.kafka_cluster import SecureKafkaNode

    node = SecureKafkaNode(tmp_path / "kafka", port=three_free_ports())
    node.start()
    try:
        yield node
    finally:
        node.stop()


async def refused(options: dict[str, object]) -> str:
    producer = AIOKafkaProducer(request_timeout_ms=5000, **options)
    try:
        await asyncio.wait_for(producer.start(), 20)
        await asyncio.wait_for(producer.send_and_wait("border.crossings", b"{}"), 20)
    except Exception as exc:
        return type(exc).__name__
    finally:
        with contextlib.suppress(Exception):
            await producer.stop()
    return ""


async def test_the_worker_authenticates_and_strangers_are_refused(
    secure_node: object, tmp_path: Path
) -> None:
    from tests.support.kafka_cluster import SecureKafkaNode

    assert isinstance(secure_node, SecureKafkaNode)
    worker = WorkerProcess(
        bootstrap=secure_node.bootstrap,
        data_dir=tmp_path / "data",
        prefix="sasl",
        extra_env={
            **secure_node.worker_env(),
            "MARCHWARDEN_GROUP_SESSION_TIMEOUT_S": "6",
        },
    )
    worker.start(timeout=120)
    try:
        doc = event(
            "crossing_attempt", "LT-BY-01", datetime.now(UTC) - timedelta(minutes=1), persons=4
        )
        producer = AIOKafkaProducer(**secure_node.client_options())
        await producer.start()
        try:
            await producer.send_and_wait(
                worker.topic("border.crossings"), json.dumps(doc).encode(), key=b"LT-BY-01"
            )
        finally:
            await producer.stop()
        await await_until(
            lambda: (
                worker.get("/picture?section=LT-BY-01")["sections"]["LT-BY-01"]["counts"]["1h"][
                    "attempt_persons"
                ]
                == 4
            ),
            30,
            "the authenticated event in the picture",
        )
        plaintext = {"bootstrap_servers": secure_node.bootstrap}
        assert await refused(plaintext), "a producer without TLS and credentials is refused"
        assert await refused(secure_node.client_options(password="wrong")), "a wrong password"
        log = secure_node.server_log.read_text(errors="replace")
        assert "SSL handshake failed" in log
        assert "invalid credentials with SASL mechanism SCRAM-SHA-512" in log
        assert secure_node.password not in worker.log(), "the broker password is never logged"
    finally:
        worker.stop()
