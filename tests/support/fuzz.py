"""Seeded hostile input: random bytes, broken JSON, wrong types, huge numbers, mutated events."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.stack import event

SECTIONS = ("LT-BY-01", "LV-BY-02", "PL-BY-01", "EE-RU-02", "LT-RU-01")
NASTY_VALUES: tuple[Any, ...] = (
    None,
    True,
    False,
    0,
    -1,
    1.0,
    1e308,
    -1e308,
    2**31,
    2**32,
    4294967296,
    2**63,
    2**64 + 1,
    10**30,
    "",
    " ",
    "1",
    "true",
    "null",
    "2024-07-01",
    "1719835200",
    "0000-00-00T00:00:00Z",
    "9999-12-31T23:59:59+14:00",
    "1969-12-31T23:59:59Z",
    "x" * 70_000,
    "\u0000\u202e\ud7ff\U0010ffff",
    "'; DROP TABLE events; --",
    [],
    [1, 2],
    {},
    {"$dt": "2024-01-01"},
    {"nested": {"deeper": [{"x": 1}]}},
)


def _valid(rng: random.Random, now: datetime, kind: str | None = None) -> dict[str, Any]:
    kind = kind or rng.choice(("crossing_attempt", "turn_back", "indicator"))
    at = now - timedelta(seconds=rng.randint(60, 6 * 3600))
    doc = event(kind, rng.choice(SECTIONS), at)
    doc["event_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return doc


def _mutate(rng: random.Random, doc: dict[str, Any]) -> dict[str, Any]:
    doc = dict(doc)
    for _ in range(rng.randint(1, 3)):
        action = rng.random()
        if action < 0.6:
            doc[rng.choice(list(doc))] = rng.choice(NASTY_VALUES)
        elif action < 0.8 and doc:
            del doc[rng.choice(list(doc))]
        else:
            doc[rng.choice(("extra", "__proto__", "persons", "level"))] = rng.choice(NASTY_VALUES)
    return doc


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def fuzzed(seed: int, count: int, now: datetime | None = None) -> Iterator[tuple[str, bytes]]:
    """(category, bytes) pairs; about a tenth are valid events, the rest hostile."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    for _ in range(count):
        roll = rng.random()
        if roll < 0.1:
            yield "valid", json.dumps(_valid(rng, now)).encode()
        elif roll < 0.2:
            yield "random_bytes", rng.randbytes(rng.randint(0, 300))
        elif roll < 0.3:
            text = json.dumps(_valid(rng, now)).encode()
            yield "truncated_json", text[: rng.randint(0, len(text) - 1)]
        elif roll < 0.35:
            yield (
                "not_an_object",
                rng.choice((b"[]", b"1", b'"x"', b"null", b"true", _deep(rng.randint(10, 5000)))),
            )
        elif roll < 0.4:
            yield "empty", b""
        elif roll < 0.45:
            yield (
                "random_object",
                json.dumps(
                    {rng.choice(("a", "event_type", "schema_version")): rng.choice(NASTY_VALUES)}
                ).encode(),
            )
        else:
            yield "mutated", json.dumps(_mutate(rng, _valid(rng, now))).encode()
