"""The watch floor's pure parts: event ids, resume plans, the board fold, SSE frames, intake."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from marchwarden.alerts.lifecycle import acknowledge, raise_alert, resolve
from marchwarden.contracts.alerts import AlertEvidence
from marchwarden.reference import load_reference
from marchwarden.screen.board import fold_alert
from marchwarden.screen.bodies import BodyError
from marchwarden.screen.commands import transition_error
from marchwarden.screen.geography import reference_geojson
from marchwarden.screen.intake import HTTP_SOURCE, Accepted, Refused, check_batch, dead_letter_for
from marchwarden.screen.positions import (
    BadEventId,
    Reset,
    Resume,
    encode_event_id,
    parse_event_id,
    plan_resume,
)
from marchwarden.screen.stream import newest_first, sse_frame
from marchwarden.screen.visibility import Viewer
from tests.support.stack import event

T0 = datetime(2024, 7, 18, 20, 0, tzinfo=UTC)
TOPIC = "ops.alerts"


# A Lithuanian patrol app: reports for LT sections as LT-VSAT (the events' default reporter).
LT_REPORTER = Viewer("patrol-7", frozenset({"reporter"}), "LT-VSAT")


def test_event_id_round_trips_and_is_the_kafkasse_shape() -> None:
    text = encode_event_id(TOPIC, {1: 5, 0: 17})
    assert json.loads(text) == [
        {"topic": TOPIC, "partition": 0, "offset": 17},
        {"topic": TOPIC, "partition": 1, "offset": 5},
    ]
    assert "\n" not in text
    assert parse_event_id(text, TOPIC) == {0: 17, 1: 5}


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("nonsense", "not JSON"),
        ("{}", "not a list"),
        ("[]", "not a list"),
        ('[{"topic":"other","partition":0,"offset":1}]', "'other'"),
        ('[{"topic":"ops.alerts","partition":0}]', "exactly"),
        ('[{"topic":"ops.alerts","partition":-1,"offset":1}]', "non-negative"),
        ('[{"topic":"ops.alerts","partition":0,"offset":true}]', "non-negative"),
        (
            '[{"topic":"ops.alerts","partition":0,"offset":1},'
            '{"topic":"ops.alerts","partition":0,"offset":2}]',
            "twice",
        ),
        ("[" + "1," * 20000 + "1]", "characters"),
    ],
)
def test_a_foreign_or_broken_event_id_is_refused_with_a_reason(text: str, why: str) -> None:
    with pytest.raises(BadEventId, match=why):
        parse_event_id(text, TOPIC)


def test_resume_continues_where_the_client_stopped() -> None:
    plan = plan_resume({0: 5, 1: 0}, beginning={0: 0, 1: 0}, end={0: 9, 1: 3})
    assert plan == Resume({0: 5, 1: 0})


def test_a_partition_the_id_does_not_name_is_read_from_its_beginning() -> None:
    plan = plan_resume({0: 5}, beginning={0: 0, 1: 2}, end={0: 9, 1: 3})
    assert plan == Resume({0: 5, 1: 2})


def test_a_position_below_the_retained_range_has_aged_out() -> None:
    plan = plan_resume({0: 3}, beginning={0: 4}, end={0: 9})
    assert isinstance(plan, Reset)
    assert "aged out" in plan.reason


@pytest.mark.parametrize(
    ("requested", "why"), [({0: 10}, "beyond the end"), ({7: 0}, "does not exist")]
)
def test_a_position_from_another_topic_resets(requested: dict[int, int], why: str) -> None:
    plan = plan_resume(requested, beginning={0: 0}, end={0: 9})
    assert isinstance(plan, Reset)
    assert why in plan.reason


def _alert(section: str = "LV-BY-02", at: datetime = T0):
    return raise_alert(
        "surge",
        section,
        1,
        "medium",
        at,
        AlertEvidence(attempts_last_hour=20),
        playbook="border_guard_reinforcement",
    )


def test_the_board_keeps_the_newest_state_of_open_alerts_only() -> None:
    board: dict = {}
    raised = _alert()
    acked = acknowledge(raised, T0 + timedelta(minutes=1), "op", "on it")
    assert fold_alert(board, raised)
    assert fold_alert(board, acked)
    assert not fold_alert(board, raised), "a replayed older state does not undo a newer one"
    assert board[raised.alert_id].status == "acknowledged"
    assert fold_alert(board, resolve(acked, T0 + timedelta(minutes=2)))
    assert board == {}


def test_transition_errors_come_from_the_lifecycle() -> None:
    raised = _alert()
    acked = acknowledge(raised, T0, "op", "")
    assert transition_error(raised, "acknowledge", T0) is None
    assert "already acknowledged" in str(transition_error(acked, "acknowledge", T0))
    assert transition_error(acked, "resolve", T0) is None


def test_sse_frames_are_one_json_line_per_event() -> None:
    frame = sse_frame("alert", {"note": "two\nlines"}, event_id="[1]").decode()
    assert frame == 'id: [1]\nevent: alert\ndata: {"note":"two\\nlines"}\n\n'
    assert sse_frame("heartbeat", {}).decode() == "event: heartbeat\ndata: {}\n\n"


def test_the_board_is_newest_first() -> None:
    older, newer = _alert("LV-BY-01", T0), _alert("LV-BY-02", T0 + timedelta(hours=1))
    assert newest_first([older, newer]) == [newer, older]


def test_intake_checks_each_event_like_the_ingest_path() -> None:
    good = event("crossing_attempt", "LT-BY-01", T0)
    verdicts = check_batch(
        [good, {"event_type": "x"}, "text", dict(good, persons=0)],
        LT_REPORTER,
        now=T0.timestamp(),
        max_batch=10,
        max_bytes=64 * 1024,
    )
    assert isinstance(verdicts[0], Accepted) and verdicts[0].event.event_id == good["event_id"]
    kinds = [(v.kind, v.dead_letter) for v in verdicts[1:] if isinstance(v, Refused)]
    assert kinds == [("unknown_event_type", True), ("not_an_object", True), ("invalid", True)]


def test_intake_refuses_the_future_and_callers_without_the_role() -> None:
    future = event("turn_back", "LT-BY-01", T0 + timedelta(days=1))
    [verdict] = check_batch([future], LT_REPORTER, T0.timestamp(), 10, 64 * 1024)
    assert isinstance(verdict, Refused) and "future" in verdict.reason
    analyst = Viewer("ann", frozenset({"analyst"}))
    [verdict] = check_batch(
        [event("turn_back", "LT-BY-01", T0)], analyst, T0.timestamp(), 10, 1 << 16
    )
    assert isinstance(verdict, Refused)
    assert (verdict.kind, verdict.dead_letter) == ("forbidden", False)
    latvian = Viewer("patrol-lv", frozenset({"reporter"}), "LV-VRS")
    [verdict] = check_batch(
        [event("turn_back", "LT-BY-01", T0)], latvian, T0.timestamp(), 10, 1 << 16
    )
    assert isinstance(verdict, Refused) and "not this token's organisation" in verdict.reason


@pytest.mark.parametrize(("body", "status"), [({"events": []}, 400), ([], 400), ([{}] * 11, 413)])
def test_intake_refuses_a_batch_that_is_not_a_bounded_array(body: object, status: int) -> None:
    with pytest.raises(BodyError) as caught:
        check_batch(body, LT_REPORTER, T0.timestamp(), 10, 1 << 16)
    assert caught.value.status == status


def test_an_http_dead_letter_keeps_the_bytes_and_a_unique_ordered_offset() -> None:
    refused = [Refused(i, "invalid", "bad", b'{"x":1}', True) for i in range(2)]
    letters = [dead_letter_for(r, "LT-VSAT", T0) for r in refused]
    assert [d.topic for d in letters] == [HTTP_SOURCE, HTTP_SOURCE]
    assert letters[0].offset < letters[1].offset
    assert base64.b64decode(letters[0].value_b64) == b'{"x":1}'
    assert base64.b64decode(letters[0].key_b64 or "") == b"LT-VSAT"
    assert letters[0].offset // 1000 == int(T0.timestamp() * 1_000_000)


def test_reference_geojson_has_every_section_park_and_artery() -> None:
    reference = load_reference()
    geo = reference_geojson(reference)
    kinds = [f["properties"]["kind"] for f in geo["features"]]
    assert kinds.count("section") == len(reference.sections)
    assert kinds.count("park") == len(reference.parks)
    assert kinds.count("artery") == len(reference.arteries)
    section = next(f for f in geo["features"] if f["properties"]["id"] == "LT-BY-01")
    assert section["geometry"]["type"] == "LineString"
    lon, lat = section["geometry"]["coordinates"][0]
    assert 20 < lon < 30 and 50 < lat < 60, "GeoJSON order is [lon, lat]"
    json.dumps(geo)  # serialisable as it stands
