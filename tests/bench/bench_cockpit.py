"""Benchmark: the customer cockpit and search at scale, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cpm_bench \\
        CPM_BENCH_CUSTOMERS=100000 .venv/bin/pytest tests/bench/bench_cockpit.py -s --reuse-db

Generates CPM_BENCH_CUSTOMERS customers (default 100,000) with COPY: each with a mobile
number, an e-mail address and a contract; interactions skewed as in real life (log-normal
with a median of 5 per customer, plus one customer with 100,000 and one per 10,000
customers with 10,000: at 1,000,000 customers the issue's hundred). With `--reuse-db`
the generated data stays for the next run (it is generated once per scale).

Prints p50/p95 of the cockpit page (Django test client, whole middleware stack) over
CPM_BENCH_ROUNDS random customers (default 1,000) and over all the large ones, with the
query count for a small and the largest history, next to a trivial view; p95 of the
exact-identifier look-ups (phone typed with spaces, e-mail, customer number, contract
number) and of a misspelt-name search, with the EXPLAIN of each. Asserts only that the
query count does not grow with the history, never a wall-clock number.
"""

from __future__ import annotations

import math
import os
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.urls import reverse
from faker import Faker

from customers.models import Customer, Interaction
from customers.selectors import customer_by_contact, customer_identify, customer_search

CUSTOMERS = int(os.environ.get("CPM_BENCH_CUSTOMERS", "100000"))
ROUNDS = int(os.environ.get("CPM_BENCH_ROUNDS", "1000"))
LARGE = 10_000
LARGEST = 100_000
PREFIX = "B-"  # bench customer numbers, apart from the factories' K- numbers
SEED = 20261125
CHANNELS = ["phone", "email", "sms", "chat", "social", "webform", "letter", "visit"]

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the cockpit benchmark runs on PostgreSQL"
)


def number(n: int) -> str:
    return f"{PREFIX}{n:07d}"


def mobile(n: int) -> tuple[str, str]:
    digits = f"{n:08d}"
    return f"0170 {digits[:4]} {digits[4:]}", f"+49170{digits}"


def interactions_per_customer(rng: random.Random, count: int) -> list[int]:
    sizes = [max(1, int(rng.lognormvariate(math.log(5.5), 1.0))) for _ in range(count)]
    sizes[0] = LARGEST
    for index in range(1, 1 + max(1, count // 10_000)):
        sizes[index] = LARGE
    return sizes


def generate(count: int) -> dict[str, object]:
    """COPY the customers, contact points, holdings and interactions; returns what it made."""
    rng = random.Random(SEED)
    fake = Faker("de_DE")
    firsts = list(dict.fromkeys(fake.first_name() for _ in range(3000)))
    lasts = list(dict.fromkeys(fake.last_name() for _ in range(3000)))
    now = datetime.now(UTC)
    sizes = interactions_per_customer(rng, count)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM customers_customer")
        first_id = cursor.fetchone()[0] + 1
        raw = cursor.connection  # psycopg 3: COPY from Python rows
        with raw.cursor() as pg:
            columns = (
                "id, number, name, language, kind, date_of_birth, register_number, "
                "preferred_channel, consent_service, consent_marketing, segment, status, "
                "created_at"
            )
            with pg.copy(f"COPY customers_customer ({columns}) FROM STDIN") as copy:
                for n in range(count):
                    born = date(1940, 1, 1) + timedelta(days=rng.randrange(60 * 365))
                    copy.write_row(
                        (
                            first_id + n,
                            number(n),
                            f"{rng.choice(firsts)} {rng.choice(lasts)}",
                            "de",
                            "person",
                            born,
                            "",
                            "",
                            True,
                            False,
                            "private",
                            "active",
                            now - timedelta(days=rng.randrange(3000)),
                        )
                    )
            columns = "customer_id, kind, network, value, normalised, verified, primary, active, created_at"  # noqa: E501
            columns = columns.replace("primary", '"primary"')
            with pg.copy(f"COPY customers_contactpoint ({columns}) FROM STDIN") as copy:
                for n in range(count):
                    value, normalised = mobile(n)
                    email = f"kunde{n}@example.org"
                    copy.write_row(
                        (first_id + n, "mobile", "", value, normalised, True, True, True, now)
                    )
                    copy.write_row((first_id + n, "email", "", email, email, True, True, True, now))
            columns = "customer_id, product, contract_number, status, start, monthly_fee, billing_account, payment_method, iban"  # noqa: E501
            with pg.copy(f"COPY customers_holding ({columns}) FROM STDIN") as copy:
                for n in range(count):
                    copy.write_row(
                        (
                            first_id + n,
                            "DSL 100",
                            f"V-B{n:07d}",
                            "active",
                            now.date(),
                            "29.99",
                            "",
                            "invoice",
                            "",
                        )
                    )
            columns = "customer_id, channel, direction, occurred_at, subject, body, case_reference"
            with pg.copy(f"COPY customers_interaction ({columns}) FROM STDIN") as copy:
                for n, size in enumerate(sizes):
                    for k in range(size):
                        copy.write_row(
                            (
                                first_id + n,
                                CHANNELS[(n + k) % 8],
                                "in" if k % 3 else "out",
                                now - timedelta(minutes=7 * k + n % 600),
                                f"Kontakt {k}",
                                "Bitte um Rückruf wegen der letzten Rechnung.",
                                "",
                            )
                        )
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('customers_customer', 'id'), "
            "(SELECT MAX(id) FROM customers_customer))"
        )
        for table in ("customer", "contactpoint", "holding", "interaction"):
            cursor.execute(f"ANALYZE customers_{table}")
    print(
        f"\ngenerated {count:,} customers, {sum(sizes):,} interactions "
        f"in {time.perf_counter() - started:.0f} s (COPY)"
    )
    return {"sizes": sizes}


@pytest.fixture(scope="session")
def bench_data(django_db_setup, django_db_blocker) -> dict[str, object]:
    with django_db_blocker.unblock():
        made = Customer.objects.filter(number__startswith=PREFIX).count()
        if made != CUSTOMERS:
            assert made == 0, "another scale is in the reused database: run with --create-db"
            generate(CUSTOMERS)
        ids = dict(Customer.objects.filter(number__startswith=PREFIX).values_list("number", "id"))
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT customer_id, COUNT(*) FROM customers_interaction "
                "GROUP BY customer_id HAVING COUNT(*) >= %s",
                [LARGE],
            )
            large = dict(cursor.fetchall())
            cursor.execute("SELECT COUNT(*) FROM customers_interaction")
            total = cursor.fetchone()[0]
    return {"ids": ids, "large": large, "interactions": total}


def timed(call: Callable[[], object], rounds: list[Callable[[], object]] | None = None):
    """p50, p95 in ms over the calls in `rounds` (or `call` 200 times)."""
    calls = rounds or [call] * 200
    calls[0]()  # warm up
    timings = []
    for one in calls:
        started = time.perf_counter()
        one()
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return statistics.median(timings), timings[max(0, int(len(timings) * 0.95) - 1)]


def query_count(call: Callable[[], object]) -> int:
    queries = []
    with connection.execute_wrapper(
        lambda execute, sql, *args: queries.append(sql) or execute(sql, *args)
    ):
        call()
    return len(queries)


def sql_time(call: Callable[[], object]) -> float:
    """Milliseconds that `call` spends waiting for the database."""
    spent = []

    def timed_execute(execute: Callable[..., object], sql: str, *args: object) -> object:
        started = time.perf_counter()
        try:
            return execute(sql, *args)
        finally:
            spent.append(time.perf_counter() - started)

    with connection.execute_wrapper(timed_execute):
        call()
    return sum(spent) * 1000


def explain(call: Callable[[], object]) -> list[str]:
    """EXPLAIN of every statement that `call` sends, with its real parameters."""
    statements = []
    with connection.execute_wrapper(
        lambda execute, sql, params, *args: (
            statements.append((sql, params)) or execute(sql, params, *args)
        )
    ):
        call()
    plans = []
    with transaction.atomic(), connection.cursor() as cursor:
        for sql, params in statements:
            verb = sql.lstrip().upper()
            if verb.startswith("SET "):  # planner settings the code itself makes
                cursor.execute(sql, params)
            elif verb.startswith("SELECT"):
                cursor.execute("EXPLAIN " + sql, params)
                plans.append("\n".join(row[0] for row in cursor.fetchall()))
    return plans


def misspell(name: str, rng: random.Random) -> str:
    """One typo in the surname: a letter replaced, dropped or doubled."""
    first, _, last = name.partition(" ")
    at = rng.randrange(1, max(2, len(last) - 1))
    how = rng.choice(["replace", "drop", "double"])
    if how == "replace":
        last = last[:at] + rng.choice("aeioulnrst") + last[at + 1 :]
    elif how == "drop":
        last = last[:at] + last[at + 1 :]
    else:
        last = last[:at] + last[at] + last[at:]
    return f"{first} {last}"


@pytest.mark.django_db
def test_bench_cockpit_and_search(bench_data, agent_client) -> None:
    rng = random.Random(SEED + 1)
    ids: dict[str, int] = bench_data["ids"]
    large: dict[int, int] = bench_data["large"]
    numbers = list(ids)
    print(
        f"\nPostgreSQL, {len(ids):,} customers, {bench_data['interactions']:,} interactions, "
        f"{len(large)} customers with >= {LARGE:,}"
    )

    trivial = timed(lambda: agent_client.get(reverse("health")))
    print(f"{'trivial view /health/':44} p50 {trivial[0]:6.2f} ms  p95 {trivial[1]:6.2f} ms")

    def page(pk: int) -> Callable[[], object]:
        def get() -> object:
            response = agent_client.get(f"/customers/{pk}/")
            assert response.status_code == 200
            return response

        return get

    sample = [ids[rng.choice(numbers)] for _ in range(ROUNDS)]
    p50, p95 = timed(page(sample[0]), [page(pk) for pk in sample])
    print(
        f"{f'cockpit, {ROUNDS} random customers':44} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  "
        f"ratio p50/trivial {p50 / trivial[0]:4.1f}"
    )
    large_calls = [page(pk) for pk in large for _ in range(20)]
    p50, p95 = timed(large_calls[0], large_calls)
    print(
        f"{f'cockpit, the {len(large)} large customers x 20':44} p50 {p50:6.2f} ms  "
        f"p95 {p95:6.2f} ms  ratio p50/trivial {p50 / trivial[0]:4.1f}"
    )
    small_pk = next(
        ids[n] for n in numbers if Interaction.objects.filter(customer_id=ids[n]).count() == 5
    )
    largest_pk = max(large, key=large.get)
    counts = {
        "5 interactions": query_count(page(small_pk)),
        f"{large[largest_pk]:,} interactions": query_count(page(largest_pk)),
    }
    print(f"cockpit queries: {counts}")
    sql_ms = [sql_time(page(pk)) for pk in sample[:200]]
    sql_ms.sort()
    print(
        f"cockpit, time in SQL per page over 200 random customers: "
        f"p50 {statistics.median(sql_ms):6.2f} ms  p95 {sql_ms[189]:6.2f} ms"
    )
    assert len(set(counts.values())) == 1, "the query count grew with the history"

    picks = [rng.randrange(len(numbers)) for _ in range(ROUNDS)]
    lookups = {
        "phone typed with spaces": lambda n: customer_identify(query=mobile(n)[0]),
        "e-mail": lambda n: customer_identify(query=f"Kunde{n}@Example.org"),
        "customer number": lambda n: customer_identify(query=number(n).lower()),
        "contract number": lambda n: customer_identify(query=f"V-B{n:07d}"),
        "identity match (normalised phone)": lambda n: customer_by_contact(
            kinds=["mobile", "phone"], normalised=mobile(n)[1]
        ),
    }
    for label, lookup in lookups.items():
        found = lookup(picks[0])
        assert found is not None and found.pk == ids[number(picks[0])], label
        p50, p95 = timed(lambda: None, [lambda n=n, f=lookup: f(n) for n in picks])
        print(f"{'exact: ' + label:44} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms")

    names = dict(Customer.objects.filter(pk__in=sample[:ROUNDS]).values_list("pk", "name"))
    typos = [(pk, misspell(names[pk], rng)) for pk in sample[:ROUNDS] if pk in names]
    hits = sum(1 for pk, typo in typos[:200] if pk in {c.pk for c in customer_search(query=typo)})
    p50, p95 = timed(lambda: None, [lambda t=t: customer_search(query=t) for _, t in typos])
    print(
        f"{'misspelt name (one typo in the surname)':44} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  "
        f"found in the top 20: {hits}/{min(200, len(typos))}"
    )

    plans = {
        "phone": explain(lambda: customer_identify(query=mobile(picks[1])[0])),
        "contract": explain(lambda: customer_identify(query=f"V-B{picks[1]:07d}")),
        "misspelt name": explain(lambda: customer_search(query=typos[0][1])),
        "cockpit timeline": explain(page(largest_pk)),
    }
    for label, statements in plans.items():
        print(f"\nEXPLAIN {label}:")
        for plan in statements:
            if "customers_" in plan:
                print(plan)
        seq = [p for p in statements if "Seq Scan on customers_" in p]
        print(f"-> sequential scans on customers tables: {len(seq)}")
