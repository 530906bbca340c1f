"""PictureEngine: operator commands from ops.commands, and the dead letters they can become."""

from __future__ import annotations

import base64
import functools
import json
from datetime import timedelta

import pytest

from marchwarden.contracts.alerts import AlertState
from tests.domain.factories import COMMANDS_TOPIC, T0, command_doc, encode

SECTION = "LT-BY-01"
MIN = timedelta(minutes=1)


@pytest.fixture
def engine_factory(engine_factory, uniform_reference):
    """The settings' floors on every section: 20 attempts an hour is the threshold here."""
    return functools.partial(engine_factory, data=uniform_reference)


@pytest.fixture
def surge_alert(harness) -> AlertState:
    harness.attempts(SECTION, 20)
    (alert,) = harness.alerts()
    return alert


def test_acknowledge_records_the_operator_and_keeps_the_alert_open(
    harness, surge_alert: AlertState
) -> None:
    harness.command(
        surge_alert.alert_id,
        "acknowledge",
        operator_id="op-vilnius-7",
        note="patrol sent",
        issued_at=T0 + 20 * MIN,
    )
    out = harness.engine.drain()

    (acked,) = out.alerts
    assert out.dead_letters == []
    assert acked.alert_id == surge_alert.alert_id
    assert (acked.status, acked.version) == ("acknowledged", 2)
    assert (acked.operator_id, acked.operator_note) == ("op-vilnius-7", "patrol sent")
    assert acked.updated_at == T0 + 20 * MIN
    assert harness.engine.open_alerts[("surge", SECTION)] == acked


def test_command_issued_before_the_last_update_does_not_move_time_back(
    harness, surge_alert: AlertState
) -> None:
    harness.command(surge_alert.alert_id, "acknowledge", issued_at=T0 - timedelta(hours=1))
    (acked,) = harness.engine.drain().alerts
    assert acked.updated_at == surge_alert.updated_at


def test_resolve_command_closes_the_alert(harness, surge_alert: AlertState) -> None:
    harness.command(surge_alert.alert_id, "resolve", operator_id="op-2", note="false alarm")

    (resolved,) = harness.engine.drain().alerts
    assert (resolved.status, resolved.version) == ("resolved", 2)
    assert (resolved.operator_id, resolved.operator_note) == ("op-2", "false alarm")
    assert harness.engine.open_alerts == {}
    assert harness.engine.alerts_by_id[surge_alert.alert_id] == resolved


def test_acknowledged_alert_can_still_be_resolved(harness, surge_alert: AlertState) -> None:
    harness.command(surge_alert.alert_id, "acknowledge", operator_id="op-1")
    harness.command(surge_alert.alert_id, "resolve", operator_id="op-1")
    out = harness.engine.drain()
    assert [(a.status, a.version) for a in out.alerts] == [("acknowledged", 2), ("resolved", 3)]
    assert out.dead_letters == []


@pytest.mark.parametrize(
    ("first", "second"),
    [("acknowledge", "acknowledge"), ("resolve", "resolve"), ("resolve", "acknowledge")],
)
def test_command_that_does_not_apply_is_dead_lettered_as_invalid_transition(
    harness, surge_alert: AlertState, first: str, second: str
) -> None:
    harness.command(surge_alert.alert_id, first)
    before = harness.engine.alerts_by_id[surge_alert.alert_id]
    harness.engine.drain()

    record = harness.command(surge_alert.alert_id, second)
    out = harness.engine.drain()

    assert out.alerts == []
    (letter,) = out.dead_letters
    assert letter.kind == "invalid_transition"
    assert surge_alert.alert_id in letter.reason
    assert base64.b64decode(letter.value_b64) == record.value
    assert (letter.topic, letter.offset) == (COMMANDS_TOPIC, record.offset)
    assert harness.engine.alerts_by_id[surge_alert.alert_id] == before


def test_command_for_an_unknown_alert_is_dead_lettered(harness) -> None:
    record = harness.command("surge.LT-BY-01.99", "acknowledge")
    (letter,) = harness.engine.drain().dead_letters
    assert letter.kind == "unknown_alert"
    assert "surge.LT-BY-01.99" in letter.reason
    assert json.loads(base64.b64decode(letter.value_b64)) == json.loads(record.value)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (b"", "empty"),
        (b"ack!", "not_json"),
        (encode({**command_doc("surge.LT-BY-01.1"), "command": "delete"}), "invalid"),
        (encode({**command_doc("surge.LT-BY-01.1"), "operator_id": ""}), "invalid"),
        (
            encode({**command_doc("surge.LT-BY-01.1"), "schema_version": 5}),
            "unsupported_schema_version",
        ),
    ],
)
def test_malformed_command_is_dead_lettered(
    harness, surge_alert: AlertState, value: bytes, kind: str
) -> None:
    harness.engine.apply_command_record(harness.record(value, COMMANDS_TOPIC))
    out = harness.engine.drain()
    assert [d.kind for d in out.dead_letters] == [kind]
    assert out.alerts == []
    assert harness.engine.alerts_by_id[surge_alert.alert_id] == surge_alert


def test_a_replayed_command_id_is_refused_as_a_duplicate(harness, surge_alert: AlertState) -> None:
    doc = command_doc(surge_alert.alert_id, "annotate", note="patrol 4 on site")
    harness.engine.apply_command_record(harness.record(encode(doc), COMMANDS_TOPIC))
    (annotated,) = harness.engine.drain().alerts
    assert (annotated.status, annotated.operator_note) == ("raised", "patrol 4 on site")
    assert annotated.command_id == doc["command_id"]

    harness.engine.apply_command_record(harness.record(encode(doc), COMMANDS_TOPIC))
    out = harness.engine.drain()
    assert out.alerts == []
    assert [(d.kind, doc["command_id"] in d.reason) for d in out.dead_letters] == [
        ("duplicate_command", True)
    ]


def test_every_state_says_who_made_it_and_from_what(harness, surge_alert: AlertState) -> None:
    assert (surge_alert.changed_by, surge_alert.previous_status) == ("rule:surge", None)
    harness.command(surge_alert.alert_id, "acknowledge", operator_id="op-1", organisation="LT-VSAT")
    (acked,) = harness.engine.drain().alerts
    assert (acked.changed_by, acked.changed_by_org, acked.previous_status) == (
        "op-1",
        "LT-VSAT",
        "raised",
    )
    assert acked.reason == "acknowledge command" and acked.command_id
