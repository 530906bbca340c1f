"""A durable embedded broker: one Apache Kafka node (KRaft) with its log under the data dir.

tansu, the default embedded broker, keeps its log in memory: an event it acknowledged dies
with it. `up --durable-broker` runs a genuine Apache Kafka node instead, as a child process,
with its log in `<data dir>/kafka`: a record Kafka acknowledged is in its log file (the
operating system's page cache) before the acknowledgement leaves, so it survives `kill -9` of
the broker, the worker or all of them, and is read again after a restart. What it does not
cover: power loss of the machine before the kernel writes the page cache out (Kafka, like a
production cluster, leaves fsync to the OS and relies on replication for that).

The jars come from Maven Central on first use (Java 17+ and Maven needed; cached in
`~/.cache/marchwarden/kafka/<version>/libs`, shared with the test scripts in infra/kafka).
"""

from __future__ import annotations

import base64
import logging
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from types import TracebackType

from marchwarden.embedded.tansu import (
    PORT_RELEASE_GRACE_S,
    EmbeddedBrokerError,
    die_with_parent,
    wait_for_port,
    wait_port_released,
)

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).parent / "kafka"
KAFKA_VERSION = "4.3.1"  # as <kafka.version> in kafka/pom.xml
FETCH_TIMEOUT_S = 900.0
# A node left by a crashed `up` shuts down on SIGTERM within seconds; wait that long for it.
PREVIOUS_NODE_GRACE_S = 30.0
JVM_FLAGS = ("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k", "-Djava.awt.headless=true")
# One node: replication factor 1 everywhere, small thread pools (it shares the machine).
NODE_PROPERTIES = (
    "num.network.threads=2",
    "num.io.threads=2",
    "background.threads=2",
    "num.partitions=4",
    "default.replication.factor=1",
    "min.insync.replicas=1",
    "offsets.topic.replication.factor=1",
    "offsets.topic.num.partitions=4",
    "transaction.state.log.replication.factor=1",
    "transaction.state.log.min.isr=1",
    "transaction.state.log.num.partitions=4",
    "share.coordinator.state.topic.replication.factor=1",
    "share.coordinator.state.topic.min.isr=1",
    "group.initial.rebalance.delay.ms=0",
    # The embedded worker uses a 2 s session (a restarted worker rejoins at once); Kafka's
    # floor is 6 s by default.
    "group.min.session.timeout.ms=1000",
    "auto.create.topics.enable=false",
    # An unclean shutdown (kill -9) leaves segments to check on the next start: recover them
    # with several threads, and keep what Marchwarden needs for its rebuild (history holds
    # the rest).
    "num.recovery.threads.per.data.dir=2",
    "log.retention.hours=168",
)


def jar_cache(version: str = KAFKA_VERSION) -> Path:
    root = os.environ.get("MARCHWARDEN_KAFKA_CACHE") or str(
        Path.home() / ".cache" / "marchwarden" / "kafka"
    )
    return Path(root) / version


def ensure_jars(version: str = KAFKA_VERSION, timeout: float = FETCH_TIMEOUT_S) -> Path:
    """The directory of the broker's jars, fetched from Maven Central the first time."""
    home = jar_cache(version)
    libs = home / "libs"
    if (home / ".complete").exists():
        return libs
    for tool in ("java", "mvn"):
        if shutil.which(tool) is None:
            raise EmbeddedBrokerError(
                f"the durable broker needs Java 17+ and Maven ({tool} not found); install them "
                "(Debian: apt-get install openjdk-17-jdk-headless maven) or run without "
                "--durable-broker"
            )
    home.mkdir(parents=True, exist_ok=True)
    staging = home / f".libs-{uuid.uuid4().hex[:8]}"
    log.info("fetching Apache Kafka %s jars from Maven Central into %s (once)", version, libs)
    started = time.monotonic()
    try:
        done = subprocess.run(
            ["mvn", "-q", "-B", "-Dstyle.color=never", "-f", str(PACKAGE_DIR / "pom.xml"),
             f"-Dkafka.version={version}", "dependency:copy-dependencies",
             "-DincludeScope=runtime", f"-DoutputDirectory={staging}"],
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise EmbeddedBrokerError(
            f"fetching the Kafka jars took over {timeout:.0f} s (Maven Central reachable?)"
        ) from exc
    if done.returncode != 0 or not any(staging.glob(f"kafka_2.13-{version}.jar")):
        shutil.rmtree(staging, ignore_errors=True)
        tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
        raise EmbeddedBrokerError("fetching the Kafka jars failed: " + " | ".join(tail))
    shutil.rmtree(libs, ignore_errors=True)
    staging.rename(libs)
    jars = len(list(libs.glob("*.jar")))
    (home / ".complete").write_text(f"version={version}\njars={jars}\n")
    log.info("fetched %d jars in %.0f s", jars, time.monotonic() - started)
    return libs


def _cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, base64url without padding (never starting '-')."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


class KafkaNode:
    """One Apache Kafka node (broker and controller) on 127.0.0.1:port, log in `directory`.

    The controller listens on port + 1; both ports are fixed when the directory is first
    formatted (the controller's address is part of its log), so a restart reuses them.
    """

    def __init__(self, port: int, directory: Path, heap: str = "512m") -> None:
        self.host = "127.0.0.1"
        self.port = port
        self.directory = directory
        self.heap = heap
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def log_dir(self) -> Path:
        return self.directory / "logs"

    def _java(self, libs: Path, main: str, *args: str) -> list[str]:
        return [
            "java", "-Xms64m", f"-Xmx{self.heap}", *JVM_FLAGS,
            f"-Dlog4j2.configurationFile={PACKAGE_DIR / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.log_dir}",
            "-cp", f"{libs}/*", main, *args,
        ]  # fmt: skip

    def _write_properties(self) -> Path:
        controller = self.port + 1
        lines = [
            "# Written by marchwarden (embedded/kafka_node.py) at each start.",
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.bootstrap.servers={self.host}:{controller}",
            f"listeners=PLAINTEXT://{self.host}:{self.port},CONTROLLER://{self.host}:{controller}",
            f"advertised.listeners=PLAINTEXT://{self.host}:{self.port},"
            f"CONTROLLER://{self.host}:{controller}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            f"log.dirs={self.directory / 'data'}",
            *NODE_PROPERTIES,
        ]
        path = self.directory / "server.properties"
        path.write_text("\n".join(lines) + "\n")
        return path

    def _format_once(self, libs: Path, properties: Path) -> None:
        saved = self.directory / "port"
        if (self.directory / "data" / "meta.properties").exists():
            if saved.exists() and saved.read_text().strip() != str(self.port):
                raise EmbeddedBrokerError(
                    f"the broker log in {self.directory} was made for port "
                    f"{saved.read_text().strip()}; set MARCHWARDEN_TANSU_PORT to it"
                )
            return
        formatted = subprocess.run(
            self._java(libs, "kafka.tools.StorageTool", "format", "-t", _cluster_id(),
                       "-c", str(properties), "--standalone"),
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        if formatted.returncode != 0:
            raise EmbeddedBrokerError(
                "formatting the broker log failed: "
                + formatted.stdout[-300:]
                + formatted.stderr[-300:]
            )
        saved.write_text(f"{self.port}\n")

    def _previous_pid(self) -> int | None:
        """The pid of a node still running on this directory (a previous `up`'s), if any."""
        try:
            pid = int((self.directory / "kafka.pid").read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if str(self.directory / "server.properties").encode() in cmdline else None

    def _wait_previous_gone(self, timeout: float) -> None:
        """After a crash of `up`, its node gets SIGTERM and shuts down (it holds the log's lock
        until then): wait for it, and refuse to share the log with a node that stays."""
        deadline = time.monotonic() + timeout
        while (pid := self._previous_pid()) is not None:
            if time.monotonic() > deadline:
                raise EmbeddedBrokerError(
                    f"a Kafka node (pid {pid}) still uses {self.directory}; is another "
                    "`marchwarden up` running with this data directory?"
                )
            time.sleep(0.1)

    def start(self, timeout: float = 90.0) -> KafkaNode:
        libs = ensure_jars()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._wait_previous_gone(PREVIOUS_NODE_GRACE_S)
        for port in (self.port, self.port + 1):
            if not wait_port_released(self.host, port, PORT_RELEASE_GRACE_S):
                raise EmbeddedBrokerError(
                    f"port {self.host}:{port} is taken; stop what uses it or set "
                    "MARCHWARDEN_TANSU_PORT (the durable broker uses it and the next one)"
                )
        self.log_dir.mkdir(parents=True, exist_ok=True)
        properties = self._write_properties()
        self._format_once(libs, properties)
        with open(self.log_dir / "stdout.log", "ab") as out:
            self.process = subprocess.Popen(
                self._java(libs, "kafka.Kafka", str(properties)),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent,
            )
        (self.directory / "kafka.pid").write_text(f"{self.process.pid}\n")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmbeddedBrokerError(
                    f"the Kafka node exited at start with code {self.process.returncode}; "
                    f"see {self.log_dir / 'server.log'}"
                )
            if wait_for_port(self.host, self.port, 0.2):
                log.info(
                    "durable Kafka node ready on %s (pid %d)", self.bootstrap, self.process.pid
                )
                return self
        self.stop()
        raise EmbeddedBrokerError(
            f"the Kafka node did not open {self.bootstrap} in {timeout:.0f} s"
        )

    def stop(self, timeout: float = 8.0) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            # Its log is safe either way: a kill leaves it to be recovered on the next start.
            proc.kill()
            proc.wait(timeout)
        log.info("durable Kafka node stopped")

    def __enter__(self) -> KafkaNode:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
