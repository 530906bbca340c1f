"""One ledger per country, applied in the order of its request log, and its audit.

A park's stock only ever serves the arteries of its own country (`travel.parks_by_arrival`),
so the countries' ledgers are independent. Each is owned by one partition of the re-keyed
request topic (key `ledger/<country>`): whichever worker raised an alert, its claims and
releases are applied by the one worker owning that partition, in the log's order, so no unit
is promised twice. The audit reads a ledger's history (every state it published) and says
where a park was promised beyond its stock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from marchwarden.alerts.closures import ClosureBook
from marchwarden.alerts.equipment import ZERO, Counts, _add, counts_of
from marchwarden.contracts.common import Level
from marchwarden.reference.models import ReferenceData
from marchwarden.settings import RuleSettings


def ledger_key(country: str) -> str:
    """The request key of a country's ledger: one key, so one owning partition."""
    return f"ledger/{country}"


def arteries_by_country(
    reference: ReferenceData, artery_ids: Iterable[str]
) -> dict[str, list[str]]:
    """An alert's arteries split by the ledger that owns them (their country)."""
    split: dict[str, list[str]] = defaultdict(list)
    for artery_id in sorted(set(artery_ids)):
        split[reference.artery(artery_id).country].append(artery_id)
    return dict(split)


@dataclass(frozen=True, slots=True)
class LedgerRequest:
    """A claim (level set) or a release (level None) of one alert on one country's ledger."""

    country: str
    alert_id: str
    artery_ids: tuple[str, ...]
    level: Level | None


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """What the ledger held per artery and park after one request (its history row)."""

    sequence: int
    request: LedgerRequest
    changed: tuple[str, ...]
    holding: Mapping[str, Mapping[str, Counts]]


class CountryLedger:
    """The closure book of one country, changed only by requests in log order."""

    def __init__(self, country: str, reference: ReferenceData, rules: RuleSettings) -> None:
        self.country = country
        self.book = ClosureBook(reference, rules)
        self.sequence = 0

    def apply(self, request: LedgerRequest) -> LedgerEntry:
        if request.country != self.country:
            raise ValueError(f"request for {request.country} sent to the {self.country} ledger")
        for artery_id in request.artery_ids:
            artery = self.book.reference.artery(artery_id)
            if artery.country != self.country:
                raise ValueError(f"artery {artery_id} is not in {self.country}")
        if request.level is None:
            changed = self.book.release(request.alert_id)
        else:
            changed = self.book.claim(request.alert_id, request.artery_ids, request.level)
        self.sequence += 1
        holding = {
            artery_id: dict(closure.holding) for artery_id, closure in self.book.closures.items()
        }
        return LedgerEntry(self.sequence, request, tuple(sorted(changed)), holding)


def promised_per_park(holdings: Iterable[Mapping[str, Mapping[str, Counts]]]) -> dict[str, Counts]:
    """Units promised per park by the given holdings (several books: all they promise)."""
    promised: dict[str, Counts] = defaultdict(lambda: ZERO)
    for holding in holdings:
        for per_park in holding.values():
            for park_id, amount in per_park.items():
                promised[park_id] = _add(promised[park_id], amount)
    return dict(promised)


def over_promised(
    reference: ReferenceData, holdings: Iterable[Mapping[str, Mapping[str, Counts]]]
) -> dict[str, Counts]:
    """Parks promised beyond their stock at one moment, with the promised counts."""
    found = {}
    for park_id, promised in promised_per_park(holdings).items():
        stock = counts_of(reference.park(park_id).stock)
        if any(p > s for p, s in zip(promised, stock, strict=True)):
            found[park_id] = promised
    return found


def audit(reference: ReferenceData, entries: Iterable[LedgerEntry]) -> list[str]:
    """Every moment of a ledger's history at which a park was promised beyond its stock."""
    problems = []
    for entry in entries:
        for park_id, promised in sorted(over_promised(reference, [entry.holding]).items()):
            problems.append(f"#{entry.sequence} {entry.request.alert_id}: {park_id} {promised}")
    return problems
