"""Benchmark: case transitions, get-next-case, the team queue and the SLA check at scale.

Runs against a real PostgreSQL database (not a test database), filling it once:

    createdb -h 127.0.0.1 -U postgres cpm_bench
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/cpm_bench
    DEBUG=1 .venv/bin/python manage.py migrate
    CPM_BENCH_CASES=2000000 .venv/bin/python tests/bench/bench_cases.py

It runs with DEBUG off, as production does (DEBUG on records every query in memory).

It prints its figures and asserts only correctness (one winner, no case handed out
twice), never a time.
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpm.settings")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-" + "x" * 40)
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
os.environ.setdefault("CPM_PLAIN_STATIC", "1")
for name in ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"):
    os.environ.setdefault(name, "0")  # the test client talks plain HTTP

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.db import close_old_connections, connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from cases.models import Case, CaseState, Team  # noqa: E402
from cases.selectors import team_queue  # noqa: E402
from cases.services import (  # noqa: E402
    CaseActionError,
    TransitionInput,
    case_get_next,
    case_transition,
    sla_check,
)
from cpm.roles import Role, roles_sync  # noqa: E402

CASES = int(os.environ.get("CPM_BENCH_CASES", "2000000"))
OPEN_SHARE = 10  # one case in ten is open
QUEUE_CASES = 20_000
CUSTOMERS = 100_000


def percentiles(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[max(int(len(values) * 0.95) - 1, 0)]
    return f"p50 {statistics.median(values):7.2f} ms  p95 {p95:7.2f} ms  (n={len(values)})"


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def fill() -> None:
    """Customers and cases in bulk with SQL; about a tenth open, a queue of 20,000."""
    if Case.objects.exists():
        return
    started = time.perf_counter()
    team, _ = Team.objects.get_or_create(name="Bench queue")
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO customers_customer (number, name, language, kind, register_number,
                 preferred_channel, consent_service, consent_marketing, segment, status, created_at)
               SELECT 'B-' || g, 'Bench Customer ' || g, 'de', 'person', '', '', true, false,
                      'private', 'active', now()
               FROM generate_series(1, %s) g""",
            [CUSTOMERS],
        )
        cursor.execute("SELECT min(id) FROM customers_customer WHERE number LIKE 'B-%%'")
        first_customer = cursor.fetchone()[0]
        cursor.execute(
            """INSERT INTO cases_case (reference, subject, state, resolution, created_at,
                 updated_at, customer_id, escalation_reason, instruction, priority, team_id,
                 resolution_due)
               SELECT 'B-' || g, 'Bench case ' || g,
                      CASE WHEN g %% %s = 0 THEN 'open' ELSE 'closed' END,
                      '', now() - (g || ' seconds')::interval, now(),
                      %s + (g %% %s), '', '', 1 + (g %% 4),
                      CASE WHEN g <= %s THEN %s ELSE NULL END,
                      CASE WHEN g %% 3 = 0 THEN now() + (g %% 5000 || ' minutes')::interval END
               FROM generate_series(1, %s) g""",
            [OPEN_SHARE, first_customer, CUSTOMERS, QUEUE_CASES * OPEN_SHARE, team.pk, CASES],
        )
        cursor.execute("ANALYZE cases_case; ANALYZE customers_customer;")
    print(f"filled {CASES:,} cases in {time.perf_counter() - started:.0f} s")


def bench_user(name: str, role: Role, team: Team) -> User:
    roles_sync()
    user, _ = User.objects.get_or_create(username=name)
    user.groups.add(*role_groups(role))
    team.members.add(user)
    return user


def role_groups(role: Role):
    from django.contrib.auth.models import Group

    return [Group.objects.get(name=role.value)]


def bench_transitions(agent: User, rounds: int = 1000) -> None:
    # Loaded as the case screen loads them (selectors.access_case_by_reference).
    cases = list(
        Case.objects.filter(state=CaseState.OPEN, assignee__isnull=True).select_related(
            "customer", "assignee", "team", "case_type", "escalated_by"
        )[:rounds]
    )
    timings = []
    started = time.perf_counter()
    for case in cases:
        timings.append(
            timed(lambda c=case: case_transition(case=c, name="wait_for_customer", by=agent))
        )
    elapsed = time.perf_counter() - started
    print(
        f"transition (guard, save, event, SLA pause)  {percentiles(timings)}  "
        f"{len(cases) / elapsed:.0f} per second, one thread"
    )
    for case in cases:
        case_transition(case=case, name="resume", by=agent)


def bench_transitions_concurrent(agents: list[User], per_agent: int = 150) -> None:
    """Each agent (a thread with its own connection) moves its own cases: the throughput."""
    cases = list(
        Case.objects.filter(state=CaseState.OPEN, assignee__isnull=True).values_list(
            "pk", flat=True
        )[1000 : 1000 + per_agent * len(agents)]
    )
    timings: list[float] = []
    lock = threading.Lock()

    def work(agent: User, pks: list[int]) -> None:
        close_old_connections()
        mine = []
        for case in Case.objects.filter(pk__in=pks).select_related("customer", "case_type"):
            mine.append(
                timed(lambda c=case: case_transition(case=c, name="wait_for_customer", by=agent))
            )
        with lock:
            timings.extend(mine)
        for case in Case.objects.filter(pk__in=pks):
            case_transition(case=case, name="resume", by=agent)
        connection.close()

    chunks = [cases[n :: len(agents)] for n in range(len(agents))]
    threads = [
        threading.Thread(target=work, args=pair) for pair in zip(agents, chunks, strict=True)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    # The clock ran over the transitions and their way back: twice the count.
    print(
        f"transitions, {len(agents)} threads  {percentiles(timings)}  "
        f"{2 * len(cases) / elapsed:.0f} per second in all"
    )


def bench_one_winner(agent: User) -> None:
    case = Case.objects.filter(state=CaseState.OPEN).first()
    results: list[str] = []

    def fire() -> None:
        close_old_connections()
        mine = Case.objects.get(pk=case.pk)
        try:
            case_transition(
                case=mine, name="resolve", by=agent, data=TransitionInput(resolution="bench")
            )
            results.append("won")
        except CaseActionError:
            results.append("lost")
        finally:
            connection.close()

    threads = [threading.Thread(target=fire) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("won") == 1, results
    print(
        f"16 concurrent transitions of one case: {results.count('won')} winner, "
        f"{results.count('lost')} refused with a conflict"
    )


def bench_get_next(agents: list[User], per_agent: int = 25) -> None:
    handed: list[int] = []
    timings: list[float] = []
    lock = threading.Lock()

    def work(agent: User) -> None:
        close_old_connections()
        for _ in range(per_agent):
            started = time.perf_counter()
            case = case_get_next(user=agent)
            took = (time.perf_counter() - started) * 1000
            with lock:
                timings.append(took)
                if case is not None:
                    handed.append(case.pk)
        connection.close()

    threads = [threading.Thread(target=work, args=(agent,)) for agent in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(handed) == len(set(handed)), "a case was handed out twice"
    print(
        f"get next case, {len(agents)} agents at once  {percentiles(timings)}  "
        f"{len(handed)} cases, none twice"
    )


def bench_queue_page(agent: User, team: Team, rounds: int = 200) -> None:
    waiting = Case.objects.filter(team=team, assignee__isnull=True).count()
    client = Client()
    client.force_login(agent)
    queries: list[str] = []
    client.get("/")
    with connection.execute_wrapper(lambda ex, sql, *a: queries.append(sql) or ex(sql, *a)):
        client.get("/")
    timings = [timed(lambda: client.get("/")) for _ in range(rounds)]
    counts = [q for q in queries if "COUNT(" in q.upper()]
    print(
        f"home page with a queue of {waiting:,} waiting cases  {percentiles(timings)}  "
        f"{len(queries)} queries, {len(counts)} COUNT queries"
    )
    timings = [timed(lambda: team_queue(teams=[team])) for _ in range(rounds)]
    print(f"team queue selector (first 50)            {percentiles(timings)}")
    trivial = [timed(lambda: client.get("/health/")) for _ in range(rounds)]
    print(f"trivial view /health/                     {percentiles(trivial)}")


def bench_sla_check() -> None:
    open_cases = Case.objects.filter(state=CaseState.OPEN).count()
    started = time.perf_counter()
    result = sla_check(now=timezone.now())
    print(
        f"SLA check over {open_cases:,} open cases: {time.perf_counter() - started:.2f} s, {result}"
    )


def main() -> None:
    fill()
    team = Team.objects.get(name="Bench queue")
    agents = [bench_user(f"bench-agent-{n}", Role.AGENT, team) for n in range(8)]
    total = Case.objects.count()
    print(f"database: {connection.vendor}, {total:,} cases")
    bench_queue_page(agents[0], team)
    bench_transitions(agents[0])
    bench_transitions_concurrent(agents)
    bench_one_winner(agents[0])
    bench_get_next(agents)
    bench_sla_check()


if __name__ == "__main__":
    main()
