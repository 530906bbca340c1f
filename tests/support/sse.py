"""A small Server-Sent Events client for tests: connect, collect events, wait for a condition."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp


@dataclass(frozen=True)
class SseEvent:
    event: str
    data: Any
    id: str | None


@dataclass
class SseClient:
    """One open stream; `events` fills as they arrive."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    events: list[SseEvent] = field(default_factory=list)
    status: int = 0
    retry_ms: int | None = None
    _session: aiohttp.ClientSession | None = None
    _response: aiohttp.ClientResponse | None = None
    _reader: asyncio.Task[None] | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    async def __aenter__(self) -> SseClient:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
        self._response = await self._session.get(self.url, headers=self.headers)
        self.status = self._response.status
        if self.status == 200:
            self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self._response is not None:
            self._response.close()
        if self._session is not None:
            await self._session.close()

    async def body(self) -> Any:
        assert self._response is not None
        return await self._response.json()

    async def _read(self) -> None:
        assert self._response is not None
        fields: dict[str, str] = {}
        data: list[str] = []
        try:
            async for raw in self._response.content:
                line = raw.decode().rstrip("\n").rstrip("\r")
                if not line:
                    if data or fields:
                        text = "\n".join(data)
                        self.events.append(
                            SseEvent(
                                fields.get("event", "message"),
                                json.loads(text) if text else None,
                                fields.get("id"),
                            )
                        )
                    fields, data = {}, []
                    continue
                if line.startswith(":"):
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "data":
                    data.append(value)
                elif name == "retry":
                    self.retry_ms = int(value)
                else:
                    fields[name] = value
        except (aiohttp.ClientError, ConnectionError):
            pass
        finally:
            self.ended.set()

    def named(self, name: str) -> list[SseEvent]:
        return [e for e in self.events if e.event == name]

    def last_id(self) -> str | None:
        ids = [e.id for e in self.events if e.id is not None]
        return ids[-1] if ids else None

    async def wait_for(
        self, predicate: Callable[[list[SseEvent]], Any], timeout: float, what: str
    ) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate(self.events)
            if result:
                return result
            if self.ended.is_set():
                break
            await asyncio.sleep(0.05)
        raise AssertionError(
            f"waiting for {what}: not seen within {timeout:.0f} s; got "
            f"{[(e.event, e.id) for e in self.events]}"
        )
