"""Bounded JSON request bodies: read at most N bytes, answer 413 or 400 in one readable line."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web


class BodyError(Exception):
    """The request body was refused; carries the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def response(self) -> web.Response:
        return web.json_response({"error": self.message}, status=self.status)


async def read_json(request: web.Request, max_bytes: int, *, empty: Any = None) -> Any:
    """The parsed body, never holding more than max_bytes (+ one chunk) of it."""
    declared = request.content_length
    if declared is not None and declared > max_bytes:
        raise BodyError(413, f"the body is {declared} bytes, over the {max_bytes}-byte limit")
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > max_bytes:
            raise BodyError(413, f"the body is over the {max_bytes}-byte limit")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        if empty is not None:
            return empty
        raise BodyError(400, "the body is empty; a JSON document is expected")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BodyError(400, f"the body is not UTF-8 JSON: {exc}") from None
