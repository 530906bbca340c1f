"""The situational picture as one organisation may see it: TLP applied to indicators and alerts."""

from __future__ import annotations

from typing import Any

from marchwarden.access.tlp import may_see, redact_alert
from marchwarden.contracts.alerts import AlertState
from marchwarden.picture.indicators import describe_indicator


def withheld_reason(count: int) -> str:
    return (
        f"{count} indicator(s) withheld under TLP from another organisation; "
        "the threat level includes them"
    )


def redact_section(section: dict[str, Any], organisation: str) -> dict[str, Any]:
    """One section of the picture view as `organisation` may see it."""
    shown: list[dict[str, Any]] = []
    hidden: list[dict[str, Any]] = []
    for indicator in section.get("indicators", []):
        visible = may_see(
            indicator["tlp"], indicator["originator"], indicator["share_with"], organisation
        )
        (shown if visible else hidden).append(indicator)
    withheld = {
        describe_indicator(i["indicator_id"], i["category"], i["level"], i["confidence"])
        for i in hidden
    }
    reasons = [r for r in section.get("threat_reasons", []) if r not in withheld]
    if hidden:
        reasons.append(withheld_reason(len(hidden)))
    alerts = [
        redact_alert(AlertState.model_validate(a), organisation).model_dump(mode="json")
        for a in section.get("open_alerts", [])
    ]
    return {
        **section,
        "indicators": shown,
        "threat_reasons": reasons,
        "open_alerts": alerts,
    }


def redact_picture(picture: dict[str, Any], organisation: str) -> dict[str, Any]:
    sections = {k: redact_section(v, organisation) for k, v in picture["sections"].items()}
    return {**picture, "sections": sections}
