"""The per-section SQL builders shared by the rebuild and `verify` (one of each idea)."""

from __future__ import annotations

from marchwarden.history.rebuild import quoted_sections, section_ranges, since_each


def test_each_section_gets_its_own_range() -> None:
    sql = section_ranges({"LV-BY-02": (120.0, 180.0), "LT-BY-01": (60.9, None)})
    assert sql == (
        "(section_id = 'LT-BY-01' AND occurred_at >= fromUnixTimestamp(60)) OR "
        "(section_id = 'LV-BY-02' AND occurred_at >= fromUnixTimestamp(120)"
        " AND occurred_at < fromUnixTimestamp(180))"
    )


def test_since_each_is_an_open_range_back_from_each_mark() -> None:
    assert since_each({"LT-BY-01": 1000.0}, 400.0) == section_ranges({"LT-BY-01": (600.0, None)})


def test_quotes_never_reach_the_sql() -> None:
    assert quoted_sections(["LT-BY-01", "x') OR 1=1 --"]) == "'LT-BY-01', 'x) OR 1=1 --'"
    assert quoted_sections([]) == "''"
