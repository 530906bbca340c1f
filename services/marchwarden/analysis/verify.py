"""Recompute the live windows from ClickHouse history and compare them with the engine."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marchwarden.engine.picture_engine import PictureEngine
from marchwarden.history.rebuild import MINUTE_BUCKETS_SQL, section_ranges
from marchwarden.history.store import HistoryStore
from marchwarden.picture.windows import COUNTERS, WINDOWS, window_bounds


async def recompute_windows(
    store: HistoryStore, watermarks: dict[str, float]
) -> dict[str, dict[str, dict[str, int]]]:
    """Per section and window, the counters recomputed from history at that section's watermark."""
    longest = max(WINDOWS.values())
    ranges: dict[str, tuple[float, float | None]] = {}
    for section, watermark in watermarks.items():
        start, end = window_bounds(watermark, longest)
        ranges[section] = (start * 60, end * 60)
    result: dict[str, dict[str, dict[str, int]]] = {
        s: {w: dict.fromkeys(COUNTERS, 0) for w in WINDOWS} for s in watermarks
    }
    if not ranges:
        return result
    _, rows = await store.aquery(
        MINUTE_BUCKETS_SQL.replace("{section_filter}", f"AND ({section_ranges(ranges)})"),
        {"from_ms": 0, "to_ms": 10**13},
    )
    for section, minute, *values in rows:
        if section not in result:
            continue
        for window, minutes in WINDOWS.items():
            start, stop = window_bounds(watermarks[section], minutes)
            if start <= int(minute) < stop:
                totals = result[section][window]
                for name, value in zip(COUNTERS, values, strict=True):
                    totals[name] += int(value)
    return result


async def verify_against_history(engine: PictureEngine, store: HistoryStore) -> dict[str, Any]:
    """Differences between live counts and history; empty `differences` means verified."""
    live_counts = engine.window_counts()
    watermarks = {section: watermark for section, (watermark, _) in live_counts.items()}
    recomputed = await recompute_windows(store, watermarks)
    differences = []
    compared = 0
    for section, (_, windows) in live_counts.items():
        for window, live in windows.items():
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
        "watermark": datetime.fromtimestamp(round(engine.watermark(), 3), UTC).isoformat(),
        "sections": len(live_counts),
        "compared": compared,
        "differences": differences,
        "ok": not differences,
    }
