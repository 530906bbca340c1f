"""Reach the history the way that works now: through a running worker, or directly."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from marchwarden.settings import Settings


class HistoryAccessError(RuntimeError):
    """A query could not run; the message is for a person."""


def worker_url(settings: Settings, url: str | None = None) -> str:
    return (url or f"http://{settings.web_host}:{settings.web_port}").rstrip("/")


def call_worker(
    base: str, method: str, path: str, body: Any = None, timeout: float = 300.0
) -> tuple[int, Any] | None:
    """HTTP call to a worker; None when no worker answers there."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        base + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read() or b"null")
        except ValueError:
            return exc.code, {"error": str(exc)}
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return None


@dataclass
class Answer:
    columns: list[str]
    rows: list[list[Any]]
    via: str
    title: str | None = None


def run_sql(settings: Settings, sql: str, url: str | None = None) -> Answer:
    """A read-only query, through the running worker if there is one, else on the store."""
    base = worker_url(settings, url)
    answer = call_worker(base, "POST", "/history/sql", {"sql": sql})
    if answer is not None:
        status, body = answer
        if status != 200:
            raise HistoryAccessError(str(body.get("error", body)))
        return Answer(body["columns"], body["rows"], via=f"worker at {base}")
    if url is not None:
        raise HistoryAccessError(f"no Marchwarden worker answers at {base}")
    columns, rows = _direct(settings, sql, None)
    return Answer(columns, rows, via=f"history at {settings.history_dsn}")


def run_report(settings: Settings, request: dict[str, Any], url: str | None = None) -> Answer:
    from marchwarden.analysis.reports import report_from_request

    base = worker_url(settings, url)
    answer = call_worker(base, "POST", "/history/report", request)
    if answer is not None:
        status, body = answer
        if status != 200:
            raise HistoryAccessError(str(body.get("error", body)))
        return Answer(body["columns"], body["rows"], via=f"worker at {base}", title=body["title"])
    if url is not None:
        raise HistoryAccessError(f"no Marchwarden worker answers at {base}")
    report = report_from_request(request)
    columns, rows = _direct(settings, report.sql, report.parameters)
    return Answer(columns, rows, via=f"history at {settings.history_dsn}", title=report.title)


def _direct(
    settings: Settings, sql: str, parameters: dict[str, Any] | None
) -> tuple[list[str], list[list[Any]]]:
    from marchwarden.history.store import HistoryStore, HistoryUnavailable, ReadOnlyViolation

    if settings.embedded_clickhouse and not (settings.data_dir / "history").exists():
        raise HistoryAccessError(
            f"no history in {settings.data_dir} (run `marchwarden demo` or `marchwarden up`)"
        )
    password = (
        settings.clickhouse_password.get_secret_value() if settings.clickhouse_password else None
    )
    store = HistoryStore(settings.history_dsn, settings.clickhouse_user, password)
    try:
        columns, rows = store.query(sql, parameters, readonly=True)
    except ReadOnlyViolation as exc:
        raise HistoryAccessError(str(exc)) from exc
    except HistoryUnavailable as exc:
        raise HistoryAccessError(str(exc)) from exc
    except Exception as exc:
        text = (str(exc).strip() or type(exc).__name__).splitlines()[0][:400]
        if "lock" in text.lower() or "already" in text.lower():
            text += " (is another process using this data directory? query through its worker)"
        raise HistoryAccessError(text) from exc
    finally:
        store.close()
    return columns, [list(r) for r in rows]
