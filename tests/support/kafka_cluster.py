"""Start and stop real Apache Kafka (KRaft) brokers on loopback for tests via infra/kafka scripts.

Plain helpers, no pytest fixtures::

    node = KafkaNode(tmp_path / "kafka")          # one broker+controller on 127.0.0.1:19092
    node.start()                                   # runs fetch.sh if needed, waits until ready
    ...  AIOKafkaProducer(bootstrap_servers=node.bootstrap) ...
    node.stop()

    with KafkaCluster(tmp_path / "cluster") as cluster:   # 3 nodes on 127.0.0.1:29092..29094
        cluster.kill_node(2)                               # kill -9
        cluster.start_node(2)                              # restart, waits until it serves again

Every call that waits has a timeout; failures raise ``KafkaInfraError`` with the script output.
Environment: ``MARCHWARDEN_KAFKA_CACHE`` (jar cache root), ``MARCHWARDEN_KAFKA_VERSION``,
``MARCHWARDEN_KAFKA_HEAP``, ``MARCHWARDEN_KAFKA_STOP_TIMEOUT`` are passed through to the scripts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import TracebackType

REPO_ROOT: Path = Path(__file__).resolve().parents[2]
SCRIPTS_DIR: Path = REPO_ROOT / "infra" / "kafka"

FETCH_TIMEOUT_S: float = 900.0
"""Upper bound for a cold jar download (measured ~6 s with a warm registry connection)."""
DEFAULT_READY_TIMEOUT_S: float = 120.0
"""Upper bound for start-to-ready (measured ~3 s single node, ~8 s three nodes on 2 cores)."""
SCRIPT_TIMEOUT_S: float = 120.0
"""Upper bound for start/stop/kill script calls (stop waits 30 s for SIGTERM, then SIGKILLs)."""

NODE_COUNT: int = 3


class KafkaInfraError(RuntimeError):
    """A Kafka helper script failed or timed out."""


def _run(
    args: list[str], timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run one script with a hard timeout; raise KafkaInfraError with its output on failure."""
    cmd = ["bash", *args]
    try:
        proc = subprocess.run(
            cmd,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=env,
        )
    except subprocess.TimeoutExpired as exc:
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr
        raise KafkaInfraError(
            f"timed out after {timeout:.0f}s: {' '.join(cmd)}\n{err or ''}"
        ) from exc
    if proc.returncode != 0:
        raise KafkaInfraError(
            f"exit {proc.returncode}: {' '.join(cmd)}\n"
            f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
        )
    return proc


def ensure_fetched(timeout: float = FETCH_TIMEOUT_S) -> None:
    """Run infra/kafka/fetch.sh (idempotent: returns at once when the jar cache is complete)."""
    _run([str(SCRIPTS_DIR / "fetch.sh")], timeout)


def wait_ready(
    bootstrap: str, timeout: float = DEFAULT_READY_TIMEOUT_S, brokers: int | None = None
) -> None:
    """Block until every address in ``bootstrap`` answers metadata listing ``brokers`` brokers."""
    args = [str(SCRIPTS_DIR / "wait-ready.sh"), bootstrap, str(int(timeout))]
    if brokers is not None:
        args += ["--brokers", str(brokers)]
    # wait_ready.py needs aiokafka: use the interpreter running the tests unless told otherwise.
    env = {**os.environ, "MARCHWARDEN_PYTHON": os.environ.get("MARCHWARDEN_PYTHON", sys.executable)}
    _run(args, timeout + 30, env=env)


class KafkaNode:
    """One combined broker+controller node (infra/kafka/single.sh) on 127.0.0.1:``port``."""

    def __init__(
        self, workdir: Path | str, port: int = 19092, ready_timeout: float = DEFAULT_READY_TIMEOUT_S
    ) -> None:
        self.workdir: Path = Path(workdir)
        self.port: int = port
        self.ready_timeout: float = ready_timeout

    @property
    def bootstrap(self) -> str:
        """``bootstrap_servers`` string for clients."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        """Fetch jars if needed, format storage on first use, start, and wait until ready."""
        ensure_fetched()
        _run(
            [str(SCRIPTS_DIR / "single.sh"), "start", str(self.workdir), str(self.port)],
            SCRIPT_TIMEOUT_S,
        )
        try:
            wait_ready(self.bootstrap, self.ready_timeout, brokers=1)
        except KafkaInfraError:
            self.stop()
            raise

    def stop(self) -> None:
        """SIGTERM the node, SIGKILL it if it does not exit in time; no JVM is left behind."""
        _run([str(SCRIPTS_DIR / "single.sh"), "stop", str(self.workdir)], SCRIPT_TIMEOUT_S)

    def is_running(self) -> bool:
        """True if the node's JVM is alive (it may not be ready yet)."""
        proc = subprocess.run(
            ["bash", str(SCRIPTS_DIR / "single.sh"), "status", str(self.workdir)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return proc.returncode == 0

    def __enter__(self) -> KafkaNode:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class KafkaCluster:
    """Three broker+controller nodes (infra/kafka/cluster.sh), numbered 1..3, on ``base_port``..+2.

    Topics default to RF 3 with min.insync.replicas=2, so acks=all producers survive one node down.
    """

    def __init__(
        self,
        workdir: Path | str,
        base_port: int = 29092,
        ready_timeout: float = DEFAULT_READY_TIMEOUT_S,
    ) -> None:
        self.workdir: Path = Path(workdir)
        self.base_port: int = base_port
        self.ready_timeout: float = ready_timeout

    def port(self, n: int) -> int:
        """Client port of node ``n`` (1..3)."""
        self._check(n)
        return self.base_port + n - 1

    @property
    def bootstrap(self) -> str:
        """``bootstrap_servers`` string listing all three nodes."""
        return ",".join(f"127.0.0.1:{self.port(n)}" for n in range(1, NODE_COUNT + 1))

    def start(self) -> None:
        """Fetch jars if needed, start all three nodes and wait until all brokers are registered."""
        ensure_fetched()
        _run(
            [str(SCRIPTS_DIR / "cluster.sh"), "start", str(self.workdir), str(self.base_port)],
            SCRIPT_TIMEOUT_S,
        )
        try:
            wait_ready(self.bootstrap, self.ready_timeout, brokers=NODE_COUNT)
        except KafkaInfraError:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop all nodes together (SIGTERM, then SIGKILL after the stop timeout)."""
        _run([str(SCRIPTS_DIR / "cluster.sh"), "stop", str(self.workdir)], SCRIPT_TIMEOUT_S)

    def kill_node(self, n: int) -> None:
        """Crash node ``n`` with SIGKILL (no controlled shutdown); returns once it is gone."""
        self._check(n)
        _run(
            [str(SCRIPTS_DIR / "cluster.sh"), "kill-node", str(self.workdir), str(n)],
            SCRIPT_TIMEOUT_S,
        )

    def start_node(self, n: int) -> None:
        """Restart node ``n`` on its existing storage; wait until it serves metadata again."""
        self._check(n)
        _run(
            [str(SCRIPTS_DIR / "cluster.sh"), "start-node", str(self.workdir), str(n)],
            SCRIPT_TIMEOUT_S,
        )
        wait_ready(f"127.0.0.1:{self.port(n)}", self.ready_timeout, brokers=NODE_COUNT)

    def running_nodes(self) -> list[int]:
        """Numbers of the nodes whose JVM is alive."""
        proc = subprocess.run(
            ["bash", str(SCRIPTS_DIR / "cluster.sh"), "status", str(self.workdir)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return [int(line.split()[1]) for line in proc.stdout.splitlines() if " running " in line]

    @staticmethod
    def _check(n: int) -> None:
        if not 1 <= n <= NODE_COUNT:
            raise ValueError(f"node number must be 1..{NODE_COUNT}, got {n}")

    def __enter__(self) -> KafkaCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class SecureKafkaNode:
    """One node that accepts clients only over SASL_SSL with SCRAM-SHA-512 (infra/kafka/secure.sh).

    The passwords are drawn here and reach the script through its environment; the client's
    user is created when the storage is formatted. ``client_options()`` are aiokafka's
    keyword arguments for that user; ``ca_file`` is the throwaway CA the broker's
    certificate was signed with.
    """

    def __init__(self, workdir: Path | str, port: int, user: str = "marchwarden") -> None:
        import secrets

        self.workdir: Path = Path(workdir)
        self.port = port
        self.user = user
        self.password = secrets.token_urlsafe(24)
        self._admin_password = secrets.token_urlsafe(24)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path:
        return self.workdir / "certs" / "ca.pem"

    @property
    def server_log(self) -> Path:
        return self.workdir / "logs" / "server.log"

    def client_options(self, password: str | None = None) -> dict[str, object]:
        import ssl

        return {
            "bootstrap_servers": self.bootstrap,
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": self.user,
            "sasl_plain_password": self.password if password is None else password,
            "ssl_context": ssl.create_default_context(cafile=str(self.ca_file)),
        }

    def worker_env(self) -> dict[str, str]:
        """The environment a worker needs to authenticate (what docker-compose.yml sets)."""
        return {
            "MARCHWARDEN_BROKER_AUTH__SECURITY_PROTOCOL": "SASL_SSL",
            "MARCHWARDEN_BROKER_AUTH__SASL_MECHANISM": "SCRAM-SHA-512",
            "MARCHWARDEN_BROKER_AUTH__USERNAME": self.user,
            "MARCHWARDEN_BROKER_AUTH__PASSWORD": self.password,
            "MARCHWARDEN_BROKER_AUTH__CA_FILE": str(self.ca_file),
        }

    def start(self, timeout: float = DEFAULT_READY_TIMEOUT_S) -> None:
        ensure_fetched()
        env = {
            **os.environ,
            "MARCHWARDEN_KAFKA_ADMIN_PASSWORD": self._admin_password,
            "MARCHWARDEN_KAFKA_CLIENT_USER": self.user,
            "MARCHWARDEN_KAFKA_CLIENT_PASSWORD": self.password,
        }
        _run(
            [str(SCRIPTS_DIR / "secure.sh"), "start", str(self.workdir), str(self.port)],
            SCRIPT_TIMEOUT_S,
            env=env,
        )
        try:
            self._wait_ready(timeout)
        except KafkaInfraError:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        import asyncio
        import time

        from aiokafka.admin import AIOKafkaAdminClient

        async def probe() -> None:
            deadline = time.monotonic() + timeout
            last = ""
            while time.monotonic() < deadline:
                admin = AIOKafkaAdminClient(request_timeout_ms=3000, **self.client_options())
                try:
                    await asyncio.wait_for(admin.start(), 5)
                    await admin.list_topics()
                    return
                except Exception as exc:  # not ready yet
                    last = f"{type(exc).__name__}: {exc}"
                finally:
                    await admin.close()
                await asyncio.sleep(0.5)
            raise KafkaInfraError(f"SASL_SSL node not ready in {timeout:.0f} s: {last}")

        asyncio.run(probe())

    def stop(self) -> None:
        _run([str(SCRIPTS_DIR / "secure.sh"), "stop", str(self.workdir)], SCRIPT_TIMEOUT_S)
