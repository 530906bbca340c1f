"""The fault and abuse suite's figures: collected by each test, printed at the end of the run.

Set MARCHWARDEN_FIGURES=path.json to also write them to a file (docs/reliability.md quotes
a run's figures).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

_FIGURES: dict[str, Any] = {}


@pytest.fixture(scope="session")
def figures() -> Iterator[dict[str, Any]]:
    yield _FIGURES
    out = os.environ.get("MARCHWARDEN_FIGURES")
    if out and _FIGURES:
        with open(out, "w", encoding="utf-8") as handle:
            json.dump(_FIGURES, handle, indent=1, sort_keys=True, default=str)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _FIGURES:
        return
    terminalreporter.section("fault and abuse suite: figures")
    for name, value in sorted(_FIGURES.items()):
        terminalreporter.write_line(f"{name}: {json.dumps(value, default=str)}")
