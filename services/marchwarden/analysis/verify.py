"""Recompute the live windows from ClickHouse history and compare them with the engine."""

from __future__ import annotations

from typing import Any

from marchwarden.history.rebuild import MINUTE_BUCKETS_SQL, section_filter
from marchwarden.history.store import HistoryStore
from marchwarden.picture.engine import PictureEngine
from marchwarden.picture.windows import COUNTERS, WINDOWS, window_bounds


async def recompute_windows(
    store: HistoryStore, watermark: float, sections: set[str]
) -> dict[str, dict[str, dict[str, int]]]:
    """Per section and window, the counters recomputed from history at `watermark`."""
    longest_start, end = window_bounds(watermark, max(WINDOWS.values()))
    _, rows = await store.aquery(
        MINUTE_BUCKETS_SQL.replace("{section_filter}", section_filter(sections)),
        {"from_ms": longest_start * 60_000, "to_ms": end * 60_000},
    )
    result: dict[str, dict[str, dict[str, int]]] = {
        s: {w: dict.fromkeys(COUNTERS, 0) for w in WINDOWS} for s in sections
    }
    for section, minute, *values in rows:
        for window, minutes in WINDOWS.items():
            start, stop = window_bounds(watermark, minutes)
            if start <= int(minute) < stop and section in result:
                totals = result[section][window]
                for name, value in zip(COUNTERS, values, strict=True):
                    totals[name] += int(value)
    return result


async def verify_against_history(engine: PictureEngine, store: HistoryStore) -> dict[str, Any]:
    """Differences between live counts and history; empty `differences` means verified."""
    watermark = engine.watermark()
    picture = engine.picture()
    recomputed = await recompute_windows(store, watermark, set(engine.owned))
    differences = []
    compared = 0
    for section, entry in picture["sections"].items():
        for window, live in entry["counts"].items():
            expected = recomputed[section][window]
            for name in COUNTERS:
                compared += 1
                if live[name] != expected[name]:
                    differences.append(
                        {
                            "section_id": section,
                            "window": window,
                            "counter": name,
                            "live": live[name],
                            "history": expected[name],
                        }
                    )
    return {
        "watermark": picture["watermark"],
        "sections": len(picture["sections"]),
        "compared": compared,
        "differences": differences,
        "ok": not differences,
    }
