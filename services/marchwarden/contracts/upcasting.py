"""Upcaster chain: bring an older event dict to the current schema version before validation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

CURRENT_SCHEMA_VERSION = 1

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

# (event_type, from_version) -> function returning the dict at from_version + 1.
# Version 1 is the first published schema, so the chain is empty; a v2 adds
# `upcast_v1_v2` here and bumps CURRENT_SCHEMA_VERSION.
UPCASTERS: dict[tuple[str, int], Upcaster] = {}


class UnsupportedSchemaVersion(ValueError):
    """The message claims a schema version this build cannot bring to the current one."""


def upcast(
    document: dict[str, Any],
    *,
    current: int = CURRENT_SCHEMA_VERSION,
    upcasters: dict[tuple[str, int], Upcaster] | None = None,
) -> dict[str, Any]:
    """Apply the chain from the document's schema_version up to `current`."""
    chain = UPCASTERS if upcasters is None else upcasters
    version = document.get("schema_version")
    # `True == 1` and `1.0 == 1` in Python: only a genuine int is a version.
    if type(version) is not int:
        raise UnsupportedSchemaVersion(f"schema_version must be an integer, got {version!r}")
    if version > current:
        raise UnsupportedSchemaVersion(
            f"schema_version {version} is newer than this build understands ({current})"
        )
    kind = str(document.get("event_type", document.get("command", "")))
    while version < current:
        step = chain.get((kind, version))
        if step is None:
            raise UnsupportedSchemaVersion(
                f"no upcaster for {kind!r} from schema_version {version}"
            )
        document = step(dict(document))
        version += 1
        document["schema_version"] = version
    return document
