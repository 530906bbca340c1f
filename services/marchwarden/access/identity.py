"""Who a caller is: roles, organisations and which border sections each organisation covers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

Role = Literal["operator", "analyst", "admin", "reporter"]
ROLES: tuple[Role, ...] = get_args(Role)

# The regional coordination centre: covers every section. Its code follows the agency-code
# pattern of the national centres (two letters, dash, name) so reporter codes and
# organisation codes stay one namespace.
REGIONAL_CENTRE = "EU-RCC"

# Organisation code -> the countries whose border sections it covers (None: all of them).
ORGANISATIONS: dict[str, frozenset[str] | None] = {
    "LT-VSAT": frozenset({"LT"}),
    "LV-VRS": frozenset({"LV"}),
    "PL-SG": frozenset({"PL"}),
    "EE-PPA": frozenset({"EE"}),
    REGIONAL_CENTRE: None,
}

# What each role may do, for people reading a 403 and for the docs.
ROLE_DUTIES: dict[Role, str] = {
    "operator": "sees the picture and the alerts; acknowledges, resolves and annotates alerts "
    "of the sections its organisation covers, and silences their rules for a while, with a reason",
    "analyst": "reads history and reports through the organisation's analyst views; no commands",
    "admin": "replays and flushes the live tables, verifies them, manages tokens",
    "reporter": "posts border events for its organisation (reserved for the events endpoint)",
}


class UnknownOrganisation(ValueError):
    """An organisation code that is not one of ORGANISATIONS."""


def check_organisation(code: str) -> str:
    if code not in ORGANISATIONS:
        raise UnknownOrganisation(
            f"unknown organisation {code!r}; one of {', '.join(sorted(ORGANISATIONS))}"
        )
    return code


def check_role(role: str) -> Role:
    for known in ROLES:
        if role == known:
            return known
    raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")


def country_of_section(section_id: str) -> str:
    """Section ids start with their country (LT-BY-01 is Lithuania's)."""
    return section_id[:2]


def covers(organisation: str, section_id: str) -> bool:
    """Whether an organisation may act on alerts of a section."""
    countries = ORGANISATIONS.get(organisation, frozenset())
    return countries is None or country_of_section(section_id) in countries


def covering_organisations(section_id: str) -> list[str]:
    """The organisations that cover a section, for 403 messages."""
    return [org for org in ORGANISATIONS if covers(org, section_id)]


ANALYST_DATABASE = re.compile(r"^analyst_[a-z_]{2,32}$")


def analyst_database(organisation: str) -> str:
    """The ClickHouse database holding one organisation's analyst views (see migration 008)."""
    check_organisation(organisation)
    return "analyst_" + organisation.lower().replace("-", "_")


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a person (name) of an organisation acting in one role."""

    name: str
    role: Role
    organisation: str
    token_id: str

    def describe(self) -> str:
        return f"{self.name} ({self.role}, {self.organisation})"
