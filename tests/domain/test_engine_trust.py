"""PictureEngine: alerts an operations centre can trust (issue 11), end to end on the engine.

Resolve is not mute, deliberate silences, stock held until the cause ends or a stand-down,
people as well as reports, a playbook per indicator category, and silent sections.
"""

from __future__ import annotations

from datetime import timedelta

from marchwarden.alerts.equipment import ZERO, counts_of
from marchwarden.history.rows import COMMAND_COLUMNS, EVENT_COLUMNS, command_row, event_row
from tests.domain.factories import COMMANDS_TOPIC, T0, command_doc, encode, event_doc

MIN = timedelta(minutes=1)
BUSY = "PL-BY-02"  # floors 20 attempts / 50 persons an hour
QUIET = "LT-RU-01"  # floors 4 attempts / 10 persons an hour
MILITARY = "LT-BY-03"


def silence_doc(section: str, until, rule: str | None = None, note: str = "exercise", **kw):
    doc = command_doc("", "silence", note=note, **kw)
    doc.update(alert_id=None, section_id=section, until=until.isoformat(), schema_version=2)
    if rule:
        doc["rule"] = rule
    return doc


def send_command(harness, doc: dict) -> None:
    harness.engine.apply_command_record(harness.record(encode(doc), COMMANDS_TOPIC))


def audit(out) -> list[dict]:
    return [dict(zip(COMMAND_COLUMNS, row, strict=True)) for row in map(command_row, out.commands)]


# --- resolve is not mute -------------------------------------------------------------------


def test_a_surge_resolved_by_hand_re_arms_when_it_worsens(harness) -> None:
    """22 attempts/h resolved by hand; 45, 85, 92 attempts/h must not go unseen."""
    harness.attempts(BUSY, 22, step_s=60)
    (raised,) = harness.alerts()
    assert raised.level == "medium"
    harness.command(raised.alert_id, "resolve", operator_id="op-1", issued_at=T0 + 25 * MIN)
    (resolved,) = harness.engine.drain().alerts
    assert resolved.changed_by == "op-1"

    harness.attempts(BUSY, 23, start=T0 + 25 * MIN, step_s=60)  # 45 in the hour: high
    (again,) = harness.alerts()
    assert again.alert_id == f"surge.{BUSY}.2"
    assert (again.level, again.status) == ("high", "raised")
    assert again.evidence.previous_alert_id == raised.alert_id
    assert again.evidence.previous_alert_level == "medium"
    assert again.evidence.explanation[-1].startswith("re-armed: worsened to high")

    # The picture is not 'low' while the section surges.
    assert harness.section_picture(BUSY)["threat_level"] == "high"
    harness.attempts(BUSY, 40, start=T0 + 48 * MIN, step_s=15)  # 85 in the hour: critical
    (critical,) = harness.alerts()
    assert (critical.alert_id, critical.level, critical.status) == (
        again.alert_id,
        "critical",
        "escalated",
    )


def test_a_surge_resolved_by_hand_re_arms_when_it_still_holds_after_the_period(
    engine_factory,
) -> None:
    harness = engine_factory(wall=T0 + timedelta(hours=6), rearm_after_s=1800)
    harness.attempts(BUSY, 22, step_s=60)
    (raised,) = harness.alerts()
    harness.command(raised.alert_id, "resolve", issued_at=T0 + 22 * MIN)
    harness.engine.drain()
    # Still about 22 an hour, steadily: quiet for the 30-minute re-arm period, then a new alert.
    harness.attempts(BUSY, 7, start=T0 + 22 * MIN, step_s=180)  # to minute 40
    assert harness.alerts() == []
    harness.attempts(BUSY, 6, start=T0 + 43 * MIN, step_s=180)  # to minute 58
    (again,) = harness.alerts()
    assert again.alert_id == f"surge.{BUSY}.2" and again.level == "medium"
    assert "re-arm period 0.5 h" in again.evidence.explanation[-1]


# --- silences -------------------------------------------------------------------------------


def test_a_silence_mutes_its_scope_is_shown_and_audited(harness) -> None:
    until = T0 + 2 * 60 * MIN
    send_command(harness, silence_doc(BUSY, until, rule="surge", note="border-guard drill"))
    out = harness.engine.drain()
    (row,) = audit(out)
    assert (row["command"], row["section_id"], row["rule"], row["outcome"]) == (
        "silence",
        BUSY,
        "surge",
        "applied",
    )
    assert row["note"] == "border-guard drill" and row["until"] == until

    harness.attempts(BUSY, 30)
    assert harness.alerts() == []
    picture = harness.section_picture(BUSY)
    (shown,) = picture["silences"]
    assert (shown["rule"], shown["reason"]) == ("surge", "border-guard drill")
    # Muted, not hidden: the counts and threshold are still there.
    assert picture["counts"]["1h"]["attempts"] == 30

    send_command(harness, {**silence_doc(BUSY, until, rule="surge"), "command": "unsilence"})
    (unsilenced,) = audit(harness.engine.drain())
    assert unsilenced["outcome"] == "applied"
    harness.attempts(BUSY, 1, start=T0 + 11 * MIN)
    (raised,) = harness.alerts()
    assert raised.rule == "surge"


def test_a_silence_expires_on_the_section_clock(harness) -> None:
    send_command(harness, silence_doc(QUIET, T0 + 30 * MIN))
    harness.engine.drain()
    harness.attempts(QUIET, 5)
    assert harness.alerts() == []
    harness.attempts(QUIET, 5, start=T0 + 31 * MIN)
    raised = harness.alerts()
    assert raised and {a.alert_id for a in raised} == {f"surge.{QUIET}.1"}


def test_a_silence_too_long_or_an_unknown_unsilence_is_refused_and_audited(harness) -> None:
    send_command(harness, silence_doc(BUSY, T0 + timedelta(days=30)))
    send_command(harness, {**silence_doc(BUSY, T0 + MIN), "command": "unsilence"})
    out = harness.engine.drain()
    assert [d.kind for d in out.dead_letters] == ["invalid_transition", "invalid_transition"]
    assert [r["outcome"] for r in audit(out)] == ["invalid_transition", "invalid_transition"]
    assert "at most 72 h" in out.dead_letters[0].reason


# --- stock held until the cause ends or a stand-down ------------------------------------------


def reserved(harness) -> dict:
    return {p: a for p, a in harness.engine.ledger.reserved.items() if a != ZERO}


def test_stock_of_an_alert_resolved_by_hand_is_released_when_its_cause_ends(harness) -> None:
    harness.indicator(MILITARY, T0, level="high", indicator_id="armour")
    (raised,) = harness.alerts()
    harness.command(raised.alert_id, "resolve", issued_at=T0 + MIN)
    harness.engine.drain()
    assert reserved(harness)

    harness.indicator(MILITARY, T0 + 5 * MIN, indicator_id="armour", state="cleared")
    (released,) = harness.alerts()
    assert (released.alert_id, released.status, released.version) == (
        raised.alert_id,
        "resolved",
        3,
    )
    assert released.recommendation.arteries == []  # type: ignore[union-attr]
    assert released.recommendation.changes[0] == "equipment released: its indicators cleared"  # type: ignore[union-attr]
    assert reserved(harness) == {}


def test_stand_down_releases_what_a_resolved_alert_still_holds(harness) -> None:
    harness.indicator(MILITARY, T0, level="high", indicator_id="armour")
    (raised,) = harness.alerts()
    harness.command(raised.alert_id, "stand_down", operator_id="op-9")
    out = harness.engine.drain()
    assert [d.kind for d in out.dead_letters] == ["invalid_transition"]
    assert "resolve it before standing down" in out.dead_letters[0].reason

    harness.command(raised.alert_id, "resolve", issued_at=T0 + MIN)
    harness.command(raised.alert_id, "stand_down", operator_id="op-9", note="threat assessed")
    out = harness.engine.drain()
    assert [a.status for a in out.alerts] == ["resolved", "resolved"]
    stood_down = out.alerts[-1]
    assert stood_down.recommendation.changes[0] == (  # type: ignore[union-attr]
        "equipment released: stand down by op-9: threat assessed"
    )
    assert reserved(harness) == {}
    # Nothing left to release.
    harness.command(raised.alert_id, "stand_down")
    assert [d.kind for d in harness.engine.drain().dead_letters] == ["invalid_transition"]


def test_a_cleared_critical_indicator_lowers_the_plan_while_a_high_one_remains(
    harness, reference
) -> None:
    harness.indicator(MILITARY, T0, level="high", indicator_id="armour")
    harness.indicator(MILITARY, T0 + MIN, level="critical", indicator_id="bridging")
    latest = harness.alerts()[-1]
    assert latest.level == "critical"
    harness.indicator(MILITARY, T0 + 2 * MIN, indicator_id="bridging", state="cleared")
    (lowered,) = harness.alerts()
    assert (lowered.level, lowered.evidence.indicator_ids) == ("high", ["armour"])
    changes = lowered.recommendation.changes  # type: ignore[union-attr]
    assert changes[:2] == ["level down from critical to high", "indicator bridging no longer lit"]
    assert any(" back to " in c for c in changes)
    held = [a for a in reserved(harness).values()]
    total = tuple(sum(x[i] for x in held) for i in range(4))
    need = [
        reference.artery(a.id).blocking_requirement.as_tuple()
        for a in reference.arteries_serving(MILITARY)
    ]
    assert total == tuple(sum(x[i] for x in need) for i in range(4))


def test_freed_stock_is_re_allocated_to_a_plan_that_was_short(engine_factory) -> None:
    """At 4x, Estonia's four parks cannot close every road; clearing one threat frees stock
    that tops up the roads still needed, in a new version of the alert that needs them."""
    harness = engine_factory(critical_requirement_multiple=4.0)
    harness.indicator("EE-RU-01", T0, level="critical", indicator_id="narva")
    harness.indicator("EE-RU-02", T0 + MIN, level="critical", indicator_id="setomaa")
    latest = {a.alert_id: a for a in harness.alerts()}
    setomaa = latest["move_equipment_to_arteries.EE-RU-02.1"]

    def shortfall(alert) -> int:
        return sum(sum(counts_of(p.shortfall)) for p in alert.recommendation.arteries)

    assert shortfall(setomaa) > 0, "Estonia's parks should run short at 4x"
    harness.indicator("EE-RU-01", T0 + 2 * MIN, indicator_id="narva", state="cleared")
    out = {a.alert_id: a for a in harness.alerts()}
    assert out["move_equipment_to_arteries.EE-RU-01.1"].status == "resolved"
    topped = out["move_equipment_to_arteries.EE-RU-02.1"]
    assert topped.version > setomaa.version
    assert shortfall(topped) < shortfall(setomaa)
    assert any(" from EE-P-" in line for line in topped.recommendation.changes)  # type: ignore[union-attr]


# --- people, not reports --------------------------------------------------------------------


def test_five_attempts_of_a_hundred_people_are_a_critical_surge(harness) -> None:
    harness.attempts(BUSY, 5, step_s=120, persons=100)
    first, alert = harness.alerts()  # high at the first report (100 people), then critical
    assert first.alert_id == alert.alert_id and first.level == "high"
    assert (alert.rule, alert.level) == ("surge", "critical")
    # The evidence of the moment it went critical: two reports, 200 people.
    assert (alert.evidence.attempts_last_hour, alert.evidence.persons_last_hour) == (2, 200)
    assert harness.section_picture(BUSY)["counts"]["1h"]["attempt_persons"] == 500
    assert alert.evidence.persons_threshold == 50.0
    assert alert.playbook == "border_guard_reinforcement"
    assert alert.recommendation.reinforcement is not None  # type: ignore[union-attr]


def test_a_quiet_section_is_not_blind(harness) -> None:
    harness.attempts(QUIET, 4, step_s=300)
    (alert,) = harness.alerts()
    assert (alert.section_id, alert.level, alert.evidence.threshold) == (QUIET, "medium", 4.0)


# --- a playbook per indicator category ------------------------------------------------------


def test_each_category_raises_its_own_playbook_and_only_military_moves_equipment(
    harness,
) -> None:
    for n, category in enumerate(["gnss_jamming", "airspace_violation", "migrant_staging"]):
        harness.indicator("LV-BY-02", T0 + n * MIN, level="high", category=category,
                          indicator_id=category)  # fmt: skip
    alerts = {a.rule: a for a in harness.alerts()}
    assert set(alerts) == {
        "gnss_jamming_advisory",
        "airspace_violation_advisory",
        "reinforce_section",
    }
    assert reserved(harness) == {}
    for alert in alerts.values():
        assert alert.recommendation is not None and alert.recommendation.arteries == []
        assert alert.recommendation.actions
    reinforce = alerts["reinforce_section"]
    assert reinforce.playbook == "border_guard_reinforcement"
    sources = reinforce.recommendation.reinforcement.sources  # type: ignore[union-attr]
    assert [(s.agency, s.request) for s in sources] == [("LV-VRS", False), ("LT-VSAT", True)]
    assert alerts["gnss_jamming_advisory"].playbook == "gnss_jamming_advisory"


def test_counter_mobility_names_the_roads_to_keep_open(harness) -> None:
    harness.indicator("PL-BY-01", T0, level="high", indicator_id="armour")
    (alert,) = harness.alerts()
    rec = alert.recommendation
    assert [k.artery_id for k in rec.keep_open] == ["PL-S61"]  # type: ignore[union-attr]
    assert "PL-S61" not in [p.artery_id for p in rec.arteries]  # type: ignore[union-attr]
    assert "keep open PL-S61" in rec.summary  # type: ignore[union-attr]


# --- silent sections ------------------------------------------------------------------------


def test_a_section_that_stops_reporting_goes_silent_and_clears_on_resume(engine_factory) -> None:
    harness = engine_factory(wall=T0)
    harness.send(event_doc("turn_back", QUIET, T0))
    assert harness.alerts(everything=True) == []
    cadence = harness.engine.silent.cadence_s[QUIET]

    harness.advance(cadence - 1)
    assert harness.alerts(everything=True) == []
    harness.advance(2)
    (silent,) = harness.alerts(everything=True)
    assert (silent.rule, silent.level, silent.playbook) == (
        "section_silent",
        "medium",
        "restore_contact",
    )
    assert silent.raised_at == T0 + timedelta(seconds=cadence)
    assert silent.evidence.last_report_at == T0
    assert silent.evidence.expected_cadence_s == cadence
    picture = harness.section_picture(QUIET)
    assert picture["last_report_at"] == T0.isoformat()
    assert picture["silent_for_s"] > cadence

    harness.advance(3 * cadence)
    (worse,) = harness.alerts(everything=True)
    assert (worse.alert_id, worse.level) == (silent.alert_id, "high")

    # A sensor heartbeat is enough to show the section is alive.
    back = T0 + timedelta(seconds=4 * cadence + 1)
    harness.send(event_doc("sensor_heartbeat", QUIET, back))
    (resolved,) = harness.alerts(everything=True)
    assert (resolved.alert_id, resolved.status, resolved.updated_at) == (
        silent.alert_id,
        "resolved",
        back,
    )


def test_heartbeats_are_accepted_and_kept_in_history(harness) -> None:
    harness.send(event_doc("sensor_heartbeat", QUIET, T0, status="degraded"))
    out = harness.engine.drain()
    (row,) = [dict(zip(EVENT_COLUMNS, r, strict=True)) for r in map(event_row, out.events)]
    assert (row["event_type"], row["state"], row["persons"]) == ("sensor_heartbeat", "degraded", 0)
    assert harness.section_picture(QUIET)["counts"]["1h"]["attempts"] == 0
