"""Benchmark: the case page and the customer page against the size of the customer's history.

Run on demand (never part of `make test`):

    .venv/bin/pytest tests/bench/bench_case_page.py -s
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cpm \
        .venv/bin/pytest tests/bench/bench_case_page.py -s

It prints p50/p95 of in-process render times (Django test client, the whole middleware
stack) and the query count, next to a trivial view measured in the same run. It asserts
only that the query count does not grow with the history, never a wall-clock figure.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import pytest
from django.db import connection
from django.urls import reverse

from cases.models import CaseState
from customers.models import Interaction
from tests.factories import CaseFactory, CustomerFactory, InteractionFactory

ROUNDS = 200
SIZES = [5, 5_000, 50_000]


def measure(call: Callable[[], object], rounds: int = ROUNDS) -> tuple[float, float, int]:
    call()  # warm up caches and the template loader
    queries = []
    # A wrapper counts every statement; CaptureQueriesContext is confused by the
    # per-request reset of connection.queries_log.
    with connection.execute_wrapper(
        lambda execute, sql, *args: queries.append(sql) or execute(sql, *args)
    ):
        call()
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.95) - 1], len(queries)


def history(size: int):
    case = CaseFactory(state=CaseState.OPEN)
    template = InteractionFactory.build(customer=case.customer)
    Interaction.objects.bulk_create(
        [
            Interaction(
                customer=case.customer,
                channel=template.channel,
                direction=template.direction,
                occurred_at=template.occurred_at,
                subject=f"Kontakt {n}",
                body=template.body,
            )
            for n in range(size)
        ],
        batch_size=5000,
    )
    return case


@pytest.mark.django_db
def test_bench_pages_against_history_size(agent_client) -> None:
    print(f"\ndatabase: {connection.vendor}, {ROUNDS} rounds each")
    trivial = measure(lambda: agent_client.get(reverse("health")))
    print(
        f"{'trivial view /health/':42} p50 {trivial[0]:6.2f} ms  "
        f"p95 {trivial[1]:6.2f} ms  {trivial[2]} queries"
    )
    counts = set()
    for size in SIZES:
        case = history(size)
        for label, url in [
            ("case page", case.get_absolute_url()),
            ("customer page", case.customer.get_absolute_url()),
            ("timeline fragment", reverse("customers:customer-timeline", args=[case.customer_id])),
        ]:
            p50, p95, queries = measure(lambda url=url: agent_client.get(url))
            counts.add((label, queries))
            print(
                f"{label + f' ({size:,} contacts)':42} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  "
                f"{queries} queries  ratio p50/trivial {p50 / trivial[0]:4.1f}"
            )
    CustomerFactory()  # keep factories' sequences apart from the next run
    assert len({label for label, _ in counts}) == len(counts), "query count grew with history"
