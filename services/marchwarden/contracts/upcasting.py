"""Upcaster chain: bring an older message dict to the current schema version before validation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# The first published version of every contract.
CURRENT_SCHEMA_VERSION = 1

# Contracts that moved past version 1, by kind (an event_type, "command" or "alert").
CURRENT_VERSIONS: dict[str, int] = {"indicator": 2, "command": 3, "alert": 3}

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


def _unchanged(document: dict[str, Any]) -> dict[str, Any]:
    """Version 2 only added optional fields: a version 1 document is valid as it is."""
    return document


def alert_v1_to_v2(document: dict[str, Any]) -> dict[str, Any]:
    """A version 1 alert knew its indicators only by id, not their TLP or originator.

    Unknown marking is treated as the most restricted one: the ids become sources marked RED
    with no originator, so no organisation sees them (the alert and its recommendation stay
    visible). Version 1 kept the acknowledging operator on an automatic resolve, so who
    resolved a v1 alert is unknown.
    """
    evidence = dict(document.get("evidence") or {})
    ids = [str(i) for i in evidence.get("indicator_ids") or []]
    evidence["sources"] = [
        {
            "indicator_id": i,
            "event_id": "",
            "category": "other",
            "level": document.get("level", "low"),
            "tlp": "red",
            "originator": "",
        }
        for i in ids
    ]
    document["evidence"] = evidence
    document["tlp"] = "red" if ids else "green"
    status = document.get("status")
    operator = document.get("operator_id")
    if status == "acknowledged" and operator:
        document["changed_by"] = operator
    elif status == "resolved":
        document["changed_by"] = "unknown (schema v1)"
    else:
        document["changed_by"] = f"rule:{document.get('rule', '')}"
    return document


# Version 2 alerts had two rules, each with one implied playbook.
_V2_PLAYBOOK = {
    "surge": "border_guard_reinforcement",
    "move_equipment_to_arteries": "counter_mobility",
}


def alert_v2_to_v3(document: dict[str, Any]) -> dict[str, Any]:
    """Version 3 names the playbook (implied by the two rules version 2 had); the new plan and
    evidence fields stay empty."""
    document["playbook"] = _V2_PLAYBOOK.get(str(document.get("rule")), "counter_mobility")
    return document


# (kind, from_version) -> function returning the dict at from_version + 1.
UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("indicator", 1): _unchanged,
    ("command", 1): _unchanged,
    ("command", 2): _unchanged,
    ("alert", 1): alert_v1_to_v2,
    ("alert", 2): alert_v2_to_v3,
}


class UnsupportedSchemaVersion(ValueError):
    """The message claims a schema version this build cannot bring to the current one."""


def kind_of(document: dict[str, Any]) -> str:
    """Which contract a document claims to be: its event type, a command, or an alert."""
    if "event_type" in document:
        return str(document["event_type"])
    if "command" in document:
        return "command"
    return "alert" if "rule" in document and "alert_id" in document else ""


def upcast(
    document: dict[str, Any],
    *,
    current: int | None = None,
    upcasters: dict[tuple[str, int], Upcaster] | None = None,
) -> dict[str, Any]:
    """Apply the chain from the document's schema_version up to the current one of its kind."""
    chain = UPCASTERS if upcasters is None else upcasters
    kind = kind_of(document)
    target = current if current is not None else CURRENT_VERSIONS.get(kind, CURRENT_SCHEMA_VERSION)
    version = document.get("schema_version")
    # `True == 1` and `1.0 == 1` in Python: only a genuine int is a version.
    if type(version) is not int:
        raise UnsupportedSchemaVersion(f"schema_version must be an integer, got {version!r}")
    if version > target:
        raise UnsupportedSchemaVersion(
            f"schema_version {version} is newer than this build understands ({target})"
        )
    while version < target:
        step = chain.get((kind, version))
        if step is None:
            raise UnsupportedSchemaVersion(
                f"no upcaster for {kind!r} from schema_version {version}"
            )
        document = step(dict(document))
        version += 1
        document["schema_version"] = version
    return document
