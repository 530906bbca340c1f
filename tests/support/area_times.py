"""Per-area test times from a JUnit XML report: what CI prints after each suite."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections import defaultdict


def area_times(path: str) -> list[tuple[str, int, float, int]]:
    """(area, tests, seconds, not passed) per tests/<area>, slowest first."""
    tests: dict[str, int] = defaultdict(int)
    seconds: dict[str, float] = defaultdict(float)
    bad: dict[str, int] = defaultdict(int)
    for case in ET.parse(path).getroot().iter("testcase"):
        parts = case.get("classname", "").split(".")
        area = parts[1] if len(parts) > 1 and parts[0] == "tests" else "?"
        tests[area] += 1
        seconds[area] += float(case.get("time") or 0)
        if any(child.tag in ("failure", "error") for child in case):
            bad[area] += 1
    return sorted(
        ((a, tests[a], seconds[a], bad[a]) for a in tests), key=lambda row: row[2], reverse=True
    )


def main(argv: list[str]) -> int:
    rows = area_times(argv[1])
    sys.stdout.write(f"{'area':<12} {'tests':>6} {'seconds':>8} {'failed':>6}\n")
    for area, count, secs, bad in rows:
        sys.stdout.write(f"{area:<12} {count:>6} {secs:>8.0f} {bad:>6}\n")
    total = sum(r[2] for r in rows)
    sys.stdout.write(f"{'total':<12} {sum(r[1] for r in rows):>6} {total:>8.0f}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
