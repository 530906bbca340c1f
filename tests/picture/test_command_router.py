"""The command router end to end: a bad command on ops.commands becomes a dead letter twice.

`route_operator_commands` (a Faust agent) validates each operator command before re-keying
it by section. What it refuses must reach ops.deadletter and the dead_letters history table
with its original bytes and the reason, and the router must go on routing good commands.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.stack import (
    TopicReader,
    WorkerProcess,
    await_until,
    event,
    produce,
    produce_events,
)

WorkerFactory = Callable[..., WorkerProcess]


def command(alert_id: str, verb: str = "acknowledge", **changes: Any) -> dict[str, Any]:
    doc = {
        "command_id": str(uuid.uuid4()),
        "schema_version": 1,
        "command": verb,
        "alert_id": alert_id,
        "operator_id": "operator-lv-vrs",  # a test token: <role>-<organisation>
        "note": "",
        "issued_at": datetime.now(UTC).isoformat(),
    }
    return doc | changes


BAD_COMMANDS: list[tuple[str, bytes, str]] = [
    ("not_json", b"ack it please", "not UTF-8 JSON"),
    ("empty", b"", "empty"),
    ("not_an_object", b'["acknowledge"]', "expected a JSON object"),
    ("invalid", json.dumps(command("surge.LV-BY-01.1", "delete")).encode(), "command: Input"),
    (
        "unsupported_schema_version",
        json.dumps(command("surge.LV-BY-01.1", schema_version=7)).encode(),
        "newer than this build",
    ),
    ("too_large", json.dumps(command("x", note="n" * (70 * 1024))).encode(), "over the"),
    ("unknown_alert", json.dumps(command("surge.XX-ZZ-09.1")).encode(), "names no known section"),
]


async def test_bad_commands_reach_the_dead_letter_topic_and_history(
    worker_factory: WorkerFactory,
) -> None:
    worker = worker_factory()
    commands = worker.topic("ops.commands")
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    async with (
        TopicReader(worker.bootstrap, worker.topic("ops.deadletter")) as letters,
        TopicReader(worker.bootstrap, worker.topic("ops.alerts")) as alerts,
    ):
        await produce_events(
            worker, [event("indicator", "LV-RU-02", t0, indicator_id="lv-r", level="high")]
        )
        raised = await alerts.wait_for(lambda m: m, 20, "an alert to acknowledge")
        alert_id = json.loads(raised[0].value)["alert_id"]

        await produce(worker.bootstrap, [(commands, b"bad", raw) for _, raw, _ in BAD_COMMANDS])
        good = json.dumps(command(alert_id, note="after the bad ones")).encode()
        await produce(worker.bootstrap, [(commands, alert_id.encode(), good)])

        await letters.wait_for(lambda m: len(m) >= len(BAD_COMMANDS), 30, "every dead letter")
        await alerts.wait_for(
            lambda m: any(json.loads(x.value)["status"] == "acknowledged" for x in m),
            30,
            "the good command still routed and applied",
        )
        received = letters.json_values()

    by_kind = {letter["kind"]: letter for letter in received}
    assert sorted(by_kind) == sorted(kind for kind, _, _ in BAD_COMMANDS), received
    assert len(received) == len(BAD_COMMANDS), "each bad command once"
    for kind, raw, fragment in BAD_COMMANDS:
        letter = by_kind[kind]
        assert letter["topic"] == commands
        assert fragment in letter["reason"], (kind, letter["reason"])
        assert letter["value_size"] == len(raw)
        kept = base64.b64decode(letter["value_b64"])
        if letter["value_truncated"]:
            # An oversized value is kept as a bounded prefix with the whole value's digest.
            assert kind == "too_large" and raw.startswith(kept) and len(kept) < len(raw)
            assert letter["value_sha256"] == hashlib.sha256(raw).hexdigest()
        else:
            assert kept == raw, "the original bytes are kept"

    worker.post("/admin/flush")
    await await_until(
        lambda: (
            worker.sql(f"SELECT count() FROM dead_letters WHERE topic = '{commands}'")
            == [[len(BAD_COMMANDS)]]
        ),
        30,
        "the dead letters in history",
    )
    rows = worker.sql(
        f"SELECT kind, reason, value_size FROM dead_letters WHERE topic = '{commands}' "
        "ORDER BY offset"
    )
    assert [(r[0], r[2]) for r in rows] == [(k, len(raw)) for k, raw, _ in BAD_COMMANDS]
    assert all(fragment in r[1] for r, (_, _, fragment) in zip(rows, BAD_COMMANDS, strict=True))
