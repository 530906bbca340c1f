"""Load the versioned reference data shipped in ``marchwarden/reference/data``."""

from __future__ import annotations

import functools
import json
import logging
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from marchwarden.reference.models import ReferenceData

logger = logging.getLogger(__name__)

DATA_FILES: dict[str, str] = {
    "sections": "sections.json",
    "parks": "parks.json",
    "arteries": "arteries.json",
    "playbooks": "playbooks.json",
    "agencies": "agencies.json",
}
"""ReferenceData field -> file name inside the data directory."""


class ReferenceDataError(ValueError):
    """A reference data file is missing, not JSON, or has a malformed envelope."""


def _read_envelope(source: Traversable | Path, name: str) -> dict[str, Any]:
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReferenceDataError(f"cannot read reference data file {name}: {exc}") from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReferenceDataError(f"{name} is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise ReferenceDataError(f"{name}: expected a JSON object with 'version' and 'items'")
    missing = [k for k in ("version", "items") if k not in doc]
    if missing:
        raise ReferenceDataError(f"{name}: missing key(s) {', '.join(missing)}")
    if not isinstance(doc["version"], str) or not isinstance(doc["items"], list):
        raise ReferenceDataError(f"{name}: 'version' must be a string and 'items' a list")
    return doc


def _load(root: Traversable | Path) -> ReferenceData:
    docs = {field: _read_envelope(root / fname, fname) for field, fname in DATA_FILES.items()}
    versions = {doc["version"] for doc in docs.values()}
    if len(versions) != 1:
        detail = ", ".join(f"{DATA_FILES[f]}={d['version']}" for f, d in docs.items())
        raise ReferenceDataError(f"reference data files disagree on version: {detail}")
    payload: dict[str, Any] = {
        "version": versions.pop(),
        "approximate": any(bool(doc.get("approximate", False)) for doc in docs.values()),
        **{field: doc["items"] for field, doc in docs.items()},
    }
    data = ReferenceData.model_validate(payload)
    logger.info(
        "loaded reference data %s from %s: %d sections, %d parks, %d arteries, %d playbooks",
        data.version,
        root,
        len(data.sections),
        len(data.parks),
        len(data.arteries),
        len(data.playbooks),
    )
    return data


@functools.lru_cache(maxsize=1)
def _load_default() -> ReferenceData:
    return _load(resources.files("marchwarden.reference") / "data")


def load_reference(data_dir: Path | None = None) -> ReferenceData:
    """Load and validate reference data.

    With no argument, the data shipped in the package is loaded once and cached.
    With ``data_dir``, the three files are read from that directory (not cached).
    Raises ``ReferenceDataError`` or ``pydantic.ValidationError`` (both ``ValueError``).
    """
    if data_dir is None:
        return _load_default()
    return _load(Path(data_dir))
