"""Reach the history the way that works now: through a running worker, or directly.

Either way the caller proves who they are with their token (MARCHWARDEN_TOKEN): the worker
checks it, and the direct path checks it against the data directory's token file, so a
query runs in the caller's organisation's analyst views under the same allow-list.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from marchwarden.access.identity import Principal, analyst_database
from marchwarden.access.sqlcheck import SqlRefused, normalise
from marchwarden.access.tokens import TokenError, TokenStore
from marchwarden.messages import first_line
from marchwarden.settings import Settings


class HistoryAccessError(RuntimeError):
    """A query could not run; the message is for a person."""


def worker_url(settings: Settings, url: str | None = None) -> str:
    return (url or f"http://{settings.web_host}:{settings.web_port}").rstrip("/")


def caller_token(settings: Settings) -> str | None:
    return settings.token.get_secret_value() if settings.token else None


def call_worker(
    base: str,
    method: str,
    path: str,
    body: Any = None,
    timeout: float = 300.0,
    token: str | None = None,
) -> tuple[int, Any] | None:
    """HTTP call to a worker; None when no worker answers there."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
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


def refusal(status: int, body: Any) -> str:
    """The worker's reason, with a hint when the token is the problem."""
    detail = str(body.get("error", body)) if isinstance(body, dict) else str(body)
    if status == 401:
        return f"{detail} (set MARCHWARDEN_TOKEN to your token)"
    return detail


@dataclass
class Answer:
    columns: list[str]
    rows: list[list[Any]]
    via: str
    title: str | None = None


def run_sql(settings: Settings, sql: str, url: str | None = None, direct: bool = False) -> Answer:
    """An analyst query, through the running worker if there is one, else on the store.

    `direct` (a data directory was named): that directory's history, never whichever worker
    happens to listen on the default port (it may serve another directory).
    """
    base = worker_url(settings, url)
    answer = (
        None
        if direct and url is None
        else call_worker(base, "POST", "/history/sql", {"sql": sql}, token=caller_token(settings))
    )
    if answer is not None:
        status, body = answer
        if status != 200:
            raise HistoryAccessError(refusal(status, body))
        return Answer(body["columns"], body["rows"], via=f"worker at {base}")
    if url is not None:
        raise HistoryAccessError(f"no Marchwarden worker answers at {base}")
    columns, rows = _direct(settings, normalise(sql), None)
    return Answer(columns, rows, via=f"history at {settings.history_dsn}")


def run_report(
    settings: Settings, request: dict[str, Any], url: str | None = None, direct: bool = False
) -> Answer:
    from marchwarden.analysis.reports import report_from_request

    base = worker_url(settings, url)
    answer = (
        None
        if direct and url is None
        else call_worker(base, "POST", "/history/report", request, token=caller_token(settings))
    )
    if answer is not None:
        status, body = answer
        if status != 200:
            raise HistoryAccessError(refusal(status, body))
        return Answer(body["columns"], body["rows"], via=f"worker at {base}", title=body["title"])
    if url is not None:
        raise HistoryAccessError(f"no Marchwarden worker answers at {base}")
    report = report_from_request(request)
    columns, rows = _direct(settings, report.sql, report.parameters)
    return Answer(columns, rows, via=f"history at {settings.history_dsn}", title=report.title)


def local_analyst(settings: Settings) -> Principal:
    """The caller, by their token, checked against this data directory's tokens."""
    token = caller_token(settings)
    if not token:
        raise HistoryAccessError(
            "history queries need an analyst token: set MARCHWARDEN_TOKEN "
            "(an admin creates one with `marchwarden token create --role analyst …`)"
        )
    try:
        principal = TokenStore(settings.tokens_path, settings.tokens).authenticate(token)
    except TokenError as exc:
        raise HistoryAccessError(str(exc)) from exc
    if principal is None:
        raise HistoryAccessError(f"MARCHWARDEN_TOKEN is not a token of {settings.tokens_path}")
    if principal.role != "analyst":
        raise HistoryAccessError(
            f"history queries need role analyst; this token is {principal.role}"
        )
    return principal


def _direct(
    settings: Settings, sql: str, parameters: dict[str, Any] | None
) -> tuple[list[str], list[list[Any]]]:
    """The caller's organisation's views of this history, in an analysts' lane of our own."""
    from marchwarden.history.analyst import direct_lane
    from marchwarden.history.store import ReadOnlyViolation

    if settings.embedded_clickhouse and not (settings.data_dir / "history").exists():
        raise HistoryAccessError(
            f"no history in {settings.data_dir} (run `marchwarden demo` or `marchwarden up`)"
        )
    principal = local_analyst(settings)
    user, secret = settings.clickhouse_user, settings.clickhouse_password
    if settings.clickhouse_reader_user:
        user, secret = settings.clickhouse_reader_user, settings.clickhouse_reader_password
    password = secret.get_secret_value() if secret else None
    lane = direct_lane(settings.history_dsn, settings.analyst, user, password)
    database = analyst_database(principal.organisation)
    try:
        columns, rows = asyncio.run(lane.run(sql, parameters, None, database=database))
    except (SqlRefused, ReadOnlyViolation) as exc:
        raise HistoryAccessError(str(exc)) from exc
    except Exception as exc:
        text = first_line(exc, 400)
        if "lock" in text.lower() or "already" in text.lower():
            text += " (is another process using this data directory? query through its worker)"
        raise HistoryAccessError(text) from exc
    finally:
        lane.close()
    return columns, [list(r) for r in rows]
