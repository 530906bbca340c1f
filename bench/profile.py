"""Summarise a py-spy speedscope profile: top functions by self and by inclusive samples."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

# Frames every sample passes through (event loop, CLI, worker start-up): not informative.
GENERIC = (
    "asyncio/",
    "click/",
    "<frozen runpy>",
    "mode/worker.py",
    "mode/services.py",
    "mode/utils/",
    "marchwarden/cli.py",
    "marchwarden/runner.py",
    "threading.py",
    "concurrent/futures/thread.py",
)


def _label(frame: dict[str, Any]) -> str:
    """function (file) without the line, so one function is one row."""
    file = str(frame.get("file", ""))
    for marker in ("site-packages/", "services/", "lib/python3.11/"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    name = str(frame.get("name", "?"))
    return name if name.startswith("process ") else f"{name} ({file})"


def summarise(path: Path, top: int = 15) -> dict[str, Any]:
    """Self and inclusive sample shares of the busiest functions, over all threads."""
    doc = json.loads(path.read_text())
    frames = doc["shared"]["frames"]
    labels = [_label(f) for f in frames]
    self_counts: Counter[str] = Counter()
    incl_counts: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for profile in doc["profiles"]:
        weights = profile.get("weights") or [1] * len(profile["samples"])
        for stack, weight in zip(profile["samples"], weights, strict=False):
            if not stack:
                continue
            total += weight
            threads[profile.get("name", "?")] += weight
            self_counts[labels[stack[-1]]] += weight
            for label in {labels[i] for i in stack}:
                if not label.startswith("process ") and not any(g in label for g in GENERIC):
                    incl_counts[label] += weight

    def rows(counter: Counter[str]) -> list[dict[str, Any]]:
        return [
            {"function": label, "share": round(c / total, 4)}
            for label, c in counter.most_common(top)
        ]

    return {
        "sampled_s": round(total, 2),
        "threads": {name: round(c / total, 4) for name, c in threads.most_common(8)},
        "self": rows(self_counts),
        "inclusive": rows(incl_counts),
    }


if __name__ == "__main__":
    print(json.dumps(summarise(Path(sys.argv[1])), indent=1))
