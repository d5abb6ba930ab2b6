"""Benchmark: evaluating and ranking 50 offers for one customer with 20 holdings.

    .venv/bin/pytest tests/bench/bench_offers.py -s
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cpm \\
        .venv/bin/pytest tests/bench/bench_offers.py -s

Three figures: the pure ranking (guardrails, 50 CEL rules over 20 holdings, Beta scores),
the panel selector (loads catalog, holdings, the customer's history, the segment's
tallies), and the offers fragment through the real view as the cockpit loads it, next to
the trivial `/health/` view. The query counts are exact and do not depend on the number
of offers.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from cases.models import OfferOutcome
from cases.offers import customer_history, offer_cards, offer_facts, offers_panel, segment_tallies
from guidance.models import OfferKind, OfferResult
from guidance.offers import offers_rank
from tests.factories import CustomerFactory, HoldingFactory, OfferFactory

OFFERS = 50
HOLDINGS = 20
ROUNDS = 30
RULES = [
    'holdings.exists(h, h.payment_method == "bank_transfer" && h.status == "active")',
    'holdings.exists(h, h.product == "DSL 100") && !holdings.exists(h, h.product == "TV")',
    "holdings.filter(h, h.monthly_fee > 20).size() >= 3",
    'customer.segment == "private" && customer.age >= 18',
    "size(holdings) >= 5 && customer.marketing_consent",
]


def timed(call: Callable[[], object]) -> tuple[float, float, int]:
    queries = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    call()  # warm-up
    samples = []
    with connection.execute_wrapper(count):
        for _ in range(ROUNDS):
            start = time.perf_counter()
            call()
            samples.append((time.perf_counter() - start) * 1000)
    cuts = statistics.quantiles(samples, n=20)
    return statistics.median(samples), cuts[18], len(queries) // ROUNDS


@pytest.mark.django_db
def test_bench_offers_for_a_customer_with_20_holdings(agent_client) -> None:
    customer = CustomerFactory(consent_marketing=True)
    for n in range(HOLDINGS):
        HoldingFactory(customer=customer, product=f"Product {n}")
    offers = [
        OfferFactory(
            kind=OfferKind.SALES if n % 2 else OfferKind.SERVICE,
            rule=RULES[n % len(RULES)],
            product=f"New product {n}",
            control_percent=10,
        )
        for n in range(OFFERS)
    ]
    now = timezone.now()
    others = [CustomerFactory() for _ in range(20)]
    OfferOutcome.objects.bulk_create(
        OfferOutcome(
            customer=other,
            offer=offer,
            segment="private",
            result=OfferResult.ACCEPTED if (i + j) % 4 == 0 else OfferResult.DECLINED,
            at=now - timedelta(days=j + 40),
        )
        for i, offer in enumerate(offers)
        for j, other in enumerate(others)
    )
    OfferOutcome.objects.bulk_create(
        OfferOutcome(
            customer=customer,
            offer=offer,
            result=OfferResult.PRESENTED,
            segment="private",
            at=now - timedelta(days=100 + i),
        )
        for i, offer in enumerate(offers[:30])
    )
    facts = offer_facts(customer, None)
    cards = offer_cards()
    history = customer_history(customer)
    tallies = segment_tallies(customer.segment)

    def rank():
        return offers_rank(
            offers=cards,
            facts=facts,
            customer_id=customer.pk,
            history=history,
            tallies=tallies,
            now=now,
        )

    ranking = rank()
    assert len(ranking.shown) == 3, ranking.skipped
    pure = timed(rank)
    assert pure[2] == 0
    warm = timed(lambda: offers_panel(customer=customer))  # rule results and tallies cached

    def cold():
        cache.clear()
        offers_panel(customer=customer)

    cold_figures = timed(cold)
    url = reverse("cases:customer-offers", args=[customer.pk])
    view = timed(lambda: agent_client.get(url, HTTP_HX_REQUEST="true"))
    health = timed(lambda: agent_client.get(reverse("health")))
    print()
    print(f"{connection.vendor}: {OFFERS} offers, {HOLDINGS} holdings, {len(ranking.eligible)}")
    print("| what | p50 ms | p95 ms | queries |")
    print("| --- | ---: | ---: | ---: |")
    for name, figures in [
        ("ranking only (pure functions)", pure),
        ("panel selector, rule results and tallies cached", warm),
        ("panel selector, nothing cached (first view)", cold_figures),
        ("offers fragment (htmx GET, whole stack)", view),
        ("trivial view /health/", health),
    ]:
        p50, p95, queries = figures
        print(f"| {name} | {p50:.2f} | {p95:.2f} | {queries} |")
