"""Print query results as a table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from typing import Any

from rich.console import Console
from rich.table import Table


def plain(value: Any) -> Any:
    """A history value as JSON can carry it (times as ISO 8601, bytes as text)."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)


def render(columns: list[str], rows: list[list[Any]], fmt: str, title: str | None = None) -> str:
    if fmt == "json":
        return json.dumps(
            [dict(zip(columns, map(plain, row), strict=True)) for row in rows],
            ensure_ascii=False,
            indent=2,
        )
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        writer.writerows([[plain(v) for v in row] for row in rows])
        return buffer.getvalue().rstrip("\n")
    table = Table(title=title, show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*[_format_cell(v) for v in row])
    console = Console(width=200, record=True)
    with console.capture() as capture:
        console.print(table)
    return capture.get().rstrip("\n")


def _format_cell(value: Any) -> str:
    value = plain(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return "" if value is None else str(value)
