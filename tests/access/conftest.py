"""A worker for a module's HTTP tests: real tansu (the session broker), real chDB, real tokens."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tests.support.stack import WorkerProcess

_prefixes = itertools.count(1)


@pytest.fixture(scope="module")
def module_worker(
    bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    """One `marchwarden up` shared by the tests of a module (starting one costs ~20 s)."""
    worker = WorkerProcess(
        bootstrap=bootstrap,
        data_dir=tmp_path_factory.mktemp("access") / "data",
        prefix=f"acc{next(_prefixes)}{tmp_path_factory.getbasetemp().name[-4:]}",
    )
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
