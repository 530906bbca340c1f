"""One ledger per country (issue 13, point 1): two workers never promise the same unit."""

from __future__ import annotations

import itertools

import pytest

from marchwarden.alerts.closures import ClosureBook
from marchwarden.allocation.ledger import (
    CountryLedger,
    LedgerRequest,
    arteries_by_country,
    audit,
    ledger_key,
    over_promised,
)
from marchwarden.ingest.worker import partition_of
from marchwarden.reference.models import ReferenceData
from marchwarden.settings import RuleSettings

# Both Estonian sections draw on the same two parks, which cannot serve both at critical.
FIRST, SECOND = "EE-RU-01", "EE-RU-02"


def arteries(reference: ReferenceData, section: str) -> tuple[str, ...]:
    return tuple(a.id for a in reference.arteries_serving(section))


def test_a_book_per_worker_promises_the_same_units_twice(reference: ReferenceData) -> None:
    """Today's shape: each worker plans on its own book; the audit must see the overlap."""
    rules = RuleSettings()
    books = [ClosureBook(reference, rules), ClosureBook(reference, rules)]
    books[0].claim("a.1", arteries(reference, FIRST), "critical")
    books[1].claim("b.1", arteries(reference, SECOND), "critical")
    holdings = [{k: dict(c.holding) for k, c in b.closures.items()} for b in books]
    assert set(over_promised(reference, holdings)) == {"EE-P-POLVA", "EE-P-VORU"}


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))))
def test_one_owner_never_promises_a_unit_twice_whatever_the_order(
    reference: ReferenceData, order: tuple[int, ...]
) -> None:
    """Claims from two workers, escalations and a release, in every order of the log."""
    requests = [
        LedgerRequest("EE", "a.1", arteries(reference, FIRST), "high"),
        LedgerRequest("EE", "b.1", arteries(reference, SECOND), "critical"),
        LedgerRequest("EE", "a.1", arteries(reference, FIRST), "critical"),
        LedgerRequest(
            "EE", "c.1", arteries(reference, SECOND) + arteries(reference, FIRST), "high"
        ),
    ]
    ledger = CountryLedger("EE", reference, RuleSettings())
    history = [ledger.apply(requests[i]) for i in order]
    # The artery both sections need is one closure, its stock counted once for every claim.
    assert set(ledger.book.closures["EE-R-KOIDULA"].claims) == {"a.1", "b.1", "c.1"}
    history.append(ledger.apply(LedgerRequest("EE", "b.1", (), None)))
    assert audit(reference, history) == []
    assert [e.sequence for e in history] == list(range(1, 6))


def test_the_audit_finds_a_promise_beyond_stock(reference: ReferenceData) -> None:
    ledger = CountryLedger("EE", reference, RuleSettings())
    entry = ledger.apply(LedgerRequest("EE", "a.1", arteries(reference, FIRST), "critical"))
    doubled = {f"{k}-copy": v for k, v in entry.holding.items()} | dict(entry.holding)
    forged = type(entry)(entry.sequence, entry.request, entry.changed, doubled)
    assert audit(reference, [forged]) != []


def test_a_ledger_refuses_another_countrys_arteries(reference: ReferenceData) -> None:
    ledger = CountryLedger("EE", reference, RuleSettings())
    lv = arteries(reference, "LV-BY-01")
    with pytest.raises(ValueError, match="is not in EE"):
        ledger.apply(LedgerRequest("EE", "a.1", lv, "high"))
    with pytest.raises(ValueError, match="sent to the EE ledger"):
        ledger.apply(LedgerRequest("LV", "a.1", lv, "high"))


def test_an_alerts_arteries_split_by_owning_ledger(reference: ReferenceData) -> None:
    split = arteries_by_country(
        reference, arteries(reference, "LT-RU-02") + arteries(reference, "LV-BY-01")
    )
    assert set(split) == {"LT", "LV"}
    assert all(a.startswith(f"{c}-") for c, ids in split.items() for a in ids)


def test_each_country_has_one_owning_partition() -> None:
    owners = {c: partition_of(ledger_key(c), 6) for c in ("EE", "LT", "LV", "PL")}
    assert owners == {c: partition_of(ledger_key(c), 6) for c in owners}  # stable
    assert all(0 <= p < 6 for p in owners.values())
