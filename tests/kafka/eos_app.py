"""A minimal Faust app for the exactly-once test, run as a subprocess and configured by env vars.

    EOS_BROKER=127.0.0.1:9092 EOS_APP_ID=eos-demo EOS_INPUT=in EOS_OUTPUT=out \
        python tests/kafka/eos_app.py worker -l info

The agent forwards each input record to the output topic (same key, value + b"|processed") and
counts records per key in the changelog-backed table ``key_to_count``. With
``processing_guarantee="exactly_once"`` Faust wraps the output sends, the table's changelog
writes and the consumer offset commit of each source partition in one Kafka transaction.

Environment:
    EOS_BROKER       host:port of the broker (required)
    EOS_APP_ID       Faust app id = consumer group id = transactional id prefix (required)
    EOS_INPUT        input topic (required)
    EOS_OUTPUT       output topic (required)
    EOS_PARTITIONS   partitions of input, output and changelog topics (default 4)
    EOS_GUARANTEE    exactly_once (default) or at_least_once
    EOS_WEB_PORT     port for Faust's web server; unset or 0 disables it
    EOS_DELAY_MS     sleep per record, to stretch processing so a test can crash it mid-stream
    EOS_TRACK_OUTPUT 1 (default): also subscribe to the output topic, see track_output below
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import faust

PARTITIONS = int(os.environ.get("EOS_PARTITIONS", "4"))
DELAY_S = float(os.environ.get("EOS_DELAY_MS", "0")) / 1000.0
WEB_PORT = int(os.environ.get("EOS_WEB_PORT", "0") or 0)

app = faust.App(
    os.environ["EOS_APP_ID"],
    broker=f"kafka://{os.environ['EOS_BROKER']}",
    store="memory://",
    processing_guarantee=os.environ.get("EOS_GUARANTEE", "exactly_once"),
    topic_partitions=PARTITIONS,
    topic_replication_factor=1,
    broker_session_timeout=10.0,
    broker_heartbeat_interval=1.0,
    broker_commit_every=100,
    broker_commit_interval=0.5,
    consumer_auto_offset_reset="earliest",
    web_enabled=WEB_PORT > 0,
    web_port=WEB_PORT or 6066,
    web_host="127.0.0.1",
    web_bind="127.0.0.1",
    autodiscover=False,
)

input_topic = app.topic(
    os.environ["EOS_INPUT"],
    key_serializer="raw",
    value_serializer="raw",
    partitions=PARTITIONS,
)
output_topic = app.topic(
    os.environ["EOS_OUTPUT"],
    key_serializer="raw",
    value_serializer="raw",
    partitions=PARTITIONS,
)
# Changelog topic: "<app id>-key_to_count-changelog"; keys and values are JSON.
key_to_count = app.Table("key_to_count", default=int, partitions=PARTITIONS)


@app.agent(input_topic)
async def forward(stream: Any) -> None:
    async for event in stream.events():
        key: bytes = event.key
        key_to_count[key.decode()] += 1
        await output_topic.send(key=key, value=event.value + b"|processed")
        if DELAY_S:
            await asyncio.sleep(DELAY_S)


# Faust's TransactionManager picks the transactional producer for a send from the *destination*
# topic's partition and assignor topic group. A topic the app does not consume has neither, so
# sends to it silently go through the plain (non-transactional) producer: at-least-once. This
# no-op agent puts the output topic into the app's subscription (same co-partitioned group as
# the input), so each output record joins the transaction of its source partition.
# EOS_TRACK_OUTPUT=0 disables it to show the difference.
if os.environ.get("EOS_TRACK_OUTPUT", "1") != "0":

    @app.agent(output_topic)
    async def track_output(stream: Any) -> None:
        async for _ in stream.events():
            pass


if __name__ == "__main__":
    app.main()
