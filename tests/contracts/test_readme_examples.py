"""The README's feeding examples are valid events, one of each type, sent to the right topics."""

from __future__ import annotations

import json
import re
from pathlib import Path

from marchwarden.contracts.decoding import Rejection, decode_event
from marchwarden.settings import TopicNames

README = Path(__file__).resolve().parents[2] / "README.md"


def feeding_section() -> str:
    text = README.read_text(encoding="utf-8")
    return text.split("## Feeding it", 1)[1].split("\n## ", 1)[0]


def test_one_valid_example_of_each_event_type() -> None:
    block = feeding_section().split("```json", 1)[1].split("```", 1)[0]
    events = [json.loads(line) for line in block.strip().splitlines()]
    for document in events:
        decoded = decode_event(json.dumps(document).encode())
        assert not isinstance(decoded, Rejection), decoded
    assert sorted(e["event_type"] for e in events) == [
        "crossing_attempt",
        "indicator",
        "sensor_heartbeat",
        "turn_back",
    ]


def test_the_client_examples_use_the_topic_of_their_event() -> None:
    section = feeding_section()
    topics = TopicNames()
    topic_of = {
        "crossing_attempt": topics.crossings,
        "turn_back": topics.turnbacks,
        "indicator": topics.indicators,
        "sensor_heartbeat": topics.for_event("sensor_heartbeat"),
    }
    commands = re.findall(r"```(?:bash|python)\n(.*?)```", section, flags=re.S)
    clients = {"kafka-console-producer": False, "kcat": False, "AIOKafkaProducer": False}
    for command in commands:
        for client in clients:
            if client in command:
                clients[client] = True
                kind = re.search(r'"event_type":\s*"(\w+)"', command)
                assert kind, command
                assert topic_of[kind.group(1)] in command, (client, kind.group(1))
    assert all(clients.values()), clients
    assert "curl -X POST" in section and "/events" in section
