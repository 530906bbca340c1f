"""Session fixtures: a real tansu broker (or Apache Kafka), chDB stores and worker processes."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from marchwarden.embedded.tansu import TansuBroker
from marchwarden.history.store import HistoryStore
from tests.support.stack import (
    ClickHouseServer,
    WorkerProcess,
    free_port,
    running_gateway,
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--broker",
        choices=("tansu", "kafka"),
        default="tansu",
        help="broker for the integration suite: embedded tansu, or Apache Kafka from Maven jars",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--broker") == "kafka":
        return
    skip = pytest.mark.skip(reason="needs --broker=kafka (genuine Apache Kafka)")
    for item in items:
        if item.get_closest_marker("kafka") or item.get_closest_marker("cluster"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def broker_kind(pytestconfig: pytest.Config) -> str:
    return str(pytestconfig.getoption("--broker"))


@pytest.fixture(scope="session")
def bootstrap(broker_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """host:port of the session's broker: tansu, or a single Apache Kafka node."""
    if broker_kind == "tansu":
        broker = TansuBroker(free_port(), log_file=tmp_path_factory.mktemp("tansu") / "tansu.log")
        broker.start()
        try:
            yield broker.bootstrap
        finally:
            broker.stop()
    else:
        from tests.support.kafka_cluster import KafkaNode

        node = KafkaNode(tmp_path_factory.mktemp("kafka"), port=free_port())
        node.start()
        try:
            yield node.bootstrap
        finally:
            node.stop()


_prefixes = itertools.count(1)


@pytest.fixture
def worker_factory(bootstrap: str, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start `marchwarden up` processes against the session broker, with isolated topics."""
    started: list[WorkerProcess] = []
    prefix = f"t{next(_prefixes)}{tmp_path.name[-6:].replace('_', '')}"

    def make(data_dir: Path | None = None, wait: bool = True, **env: str) -> WorkerProcess:
        worker = WorkerProcess(
            bootstrap=bootstrap,
            data_dir=data_dir or tmp_path / "data",
            prefix=prefix,
            extra_env=dict(env),
        )
        started.append(worker)
        return worker.start(wait=wait)

    yield make
    # A worker the test left running must stop cleanly on SIGTERM; one that already exited
    # on its own must have exited with 0. Either way a crash fails the test.
    failures = []
    for worker in started:
        running = worker.process is not None and worker.process.poll() is None
        try:
            code = worker.stop()
        except AssertionError as exc:  # did not stop within the timeout; killed
            failures.append(f"worker {worker.url}: {exc}:\n{worker.log()[-3000:]}")
            continue
        if code != 0:
            how = "on SIGTERM at teardown" if running else "on its own during the test"
            failures.append(
                f"worker {worker.url} exited with {code} {how}:\n{worker.log()[-3000:]}"
            )
    if failures:
        pytest.fail("\n\n".join(failures))


@pytest.fixture(scope="session")
def chdb_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HistoryStore]:
    """One in-process chDB store for the session (chDB allows one session per process)."""
    store = HistoryStore(f"chdb://{tmp_path_factory.mktemp('chdb') / 'history'}")
    yield store
    store.close()


@pytest.fixture(scope="session")
def clickhouse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseServer]:
    """ClickHouse's HTTP interface with a user and password (tests/support/clickhouse_http.py)."""
    server = ClickHouseServer(tmp_path_factory.mktemp("clickhouse"), port=free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[str]:
    """A chDB history shared over HTTP (`marchwarden history serve`): host:port.

    Tests reach the same history as the workers through it, and can change it under them
    (POST /command), for instance to make history refuse writes.
    """
    with running_gateway(tmp_path / "shared") as address:
        yield address
