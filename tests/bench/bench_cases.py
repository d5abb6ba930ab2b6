"""Benchmark: case transitions, get-next-case, the team queue and the SLA check at scale.

Runs against a real PostgreSQL database (not a test database), filling it once:

    createdb -h 127.0.0.1 -U postgres cpm_bench
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/cpm_bench
    DEBUG=1 .venv/bin/python manage.py migrate
    CPM_BENCH_CASES=2000000 .venv/bin/python tests/bench/bench_cases.py

It runs with DEBUG off, as production does (DEBUG on records every query in memory).
`CPM_BENCH_ONLY=transitions` measures only the transitions: one thread, 8 threads, and 4
and 8 worker processes (each with its own connection, as gunicorn runs them), with wall
and CPU time per transition.

It prints its figures and asserts only correctness (one winner, no case handed out
twice), never a time.
"""

from __future__ import annotations

import multiprocessing
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
from django.db import close_old_connections, connection, connections  # noqa: E402
from django.db.models import Max  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_q.models import OrmQ  # noqa: E402

from cases.models import (  # noqa: E402
    WORK_PERMISSION,
    Case,
    CaseState,
    OutboundMessage,
    Team,
)
from cases.selectors import team_queue  # noqa: E402
from cases.services import (  # noqa: E402
    CaseActionError,
    TransitionInput,
    case_get_next,
    case_transition,
    sla_check,
)
from cpm.roles import Role, roles_sync  # noqa: E402
from customers.models import ContactKind, ContactPoint  # noqa: E402

CASES = int(os.environ.get("CPM_BENCH_CASES", "2000000"))
OPEN_SHARE = 10  # one case in ten is open
QUEUE_CASES = 20_000
CUSTOMERS = 100_000
# Only transitions (CPM_BENCH_ONLY=transitions) or everything.
ONLY = os.environ.get("CPM_BENCH_ONLY", "")
OUTBOX_TASKS_BEFORE = 0


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


def notice_contacts(pks: list[int]) -> int:
    """Give the customers of these cases an e-mail address, so that `wait_for_customer`
    (customer-visible) writes its status notice to the outbox as in production; returns
    how many were added (none on a second run)."""
    customer_ids = set(Case.objects.filter(pk__in=pks).values_list("customer_id", flat=True))
    have = set(
        ContactPoint.objects.active()
        .filter(customer_id__in=customer_ids, kind=ContactKind.EMAIL)
        .values_list("customer_id", flat=True)
    )
    added = ContactPoint.objects.bulk_create(
        [
            ContactPoint(
                customer_id=pk,
                kind=ContactKind.EMAIL,
                value=f"bench-{pk}@example.invalid",
                normalised=f"bench-{pk}@example.invalid",
                primary=True,
            )
            for pk in sorted(customer_ids - have)
        ],
        ignore_conflicts=True,
    )
    return len(added)


def open_cases(offset: int, count: int) -> list[int]:
    return list(
        Case.objects.filter(state=CaseState.OPEN, assignee__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)[offset : offset + count]
    )


def outbox_tidy(since) -> None:
    """The benchmark's notices must not be delivered: drop them and their queued tasks."""
    OutboundMessage.objects.filter(
        created_at__gte=since, recipient__endswith="@example.invalid"
    ).delete()
    OrmQ.objects.filter(id__gt=OUTBOX_TASKS_BEFORE).delete()


def transitions_timed(agent: User, pks: list[int]) -> dict[str, object]:
    """`wait_for_customer` on each case as the case screen loads it; wall and CPU per call."""
    cases = list(
        Case.objects.filter(pk__in=pks).select_related(
            "customer", "assignee", "team", "case_type", "escalated_by", "merged_into"
        )
    )
    wall, cpu = [], []
    for case in cases:
        started, started_cpu = time.perf_counter(), time.thread_time()
        case_transition(case=case, name="wait_for_customer", by=agent)
        cpu.append((time.thread_time() - started_cpu) * 1000)
        wall.append((time.perf_counter() - started) * 1000)
    return {"wall": wall, "cpu": cpu}


def transitions_back(agent: User, pks: list[int]) -> None:
    for case in Case.objects.filter(pk__in=pks):
        case_transition(case=case, name="resume", by=agent)


def cpu_line(cpu: list[float]) -> str:
    return f"CPU {statistics.mean(cpu):5.2f} ms per transition"


def bench_transitions(agent: User, pks: list[int]) -> None:
    since = timezone.now()
    agent.has_perm(WORK_PERMISSION)  # the permission set, as a request has it cached
    started = time.perf_counter()
    result = transitions_timed(agent, pks)
    elapsed = time.perf_counter() - started
    print(
        f"transition, one thread          {percentiles(result['wall'])}  "
        f"{cpu_line(result['cpu'])}  {len(pks) / elapsed:4.0f} per second"
    )
    transitions_back(agent, pks)
    outbox_tidy(since)


def bench_transitions_threads(agents: list[User], pks: list[int]) -> None:
    """Each agent (a thread with its own connection) moves its own cases: the throughput."""
    since = timezone.now()
    results: list[dict[str, object]] = []
    barrier = threading.Barrier(len(agents) + 1, timeout=600)

    def work(agent: User, mine: list[int]) -> None:
        close_old_connections()
        agent.has_perm(WORK_PERMISSION)
        Case.objects.filter(pk__in=mine[:1]).exists()  # connected before the clock starts
        barrier.wait()
        results.append(transitions_timed(agent, mine))
        barrier.wait()
        transitions_back(agent, mine)
        connection.close()

    chunks = [pks[n :: len(agents)] for n in range(len(agents))]
    connections.close_all()  # back to the pool (at most DB_POOL_MAX connections)
    threads = [
        threading.Thread(target=work, args=pair) for pair in zip(agents, chunks, strict=True)
    ]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    barrier.wait()
    elapsed = time.perf_counter() - started
    for thread in threads:
        thread.join()
    wall = [t for r in results for t in r["wall"]]
    cpu = [t for r in results for t in r["cpu"]]
    print(
        f"transitions, {len(agents)} threads      {percentiles(wall)}  {cpu_line(cpu)}  "
        f"{len(pks) / elapsed:4.0f} per second in all"
    )
    outbox_tidy(since)


def process_work(agent_pk: int, mine: list[int], barrier, queue) -> None:
    """One worker process (as a gunicorn worker): its own connection, its own cases."""
    agent = User.objects.get(pk=agent_pk)
    agent.has_perm(WORK_PERMISSION)
    barrier.wait()
    queue.put(transitions_timed(agent, mine))
    barrier.wait()
    transitions_back(agent, mine)
    connection.close()


def bench_transitions_processes(agents: list[User], pks: list[int]) -> None:
    since = timezone.now()
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(len(agents) + 1, timeout=600)
    queue = context.Queue()
    chunks = [pks[n :: len(agents)] for n in range(len(agents))]
    for each in connections.all():  # a forked child must not share the parent's sockets
        each.close()
        if getattr(each, "pool", None) is not None:
            each.close_pool()
    workers = [
        context.Process(target=process_work, args=(agent.pk, mine, barrier, queue))
        for agent, mine in zip(agents, chunks, strict=True)
    ]
    for worker in workers:
        worker.start()
    barrier.wait()
    started = time.perf_counter()
    results = [queue.get() for _ in workers]
    elapsed = time.perf_counter() - started
    barrier.wait()
    for worker in workers:
        worker.join()
    wall = [t for r in results for t in r["wall"]]
    cpu = [t for r in results for t in r["cpu"]]
    print(
        f"transitions, {len(agents)} processes    {percentiles(wall)}  {cpu_line(cpu)}  "
        f"{len(pks) / elapsed:4.0f} per second in all"
    )
    outbox_tidy(since)


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
    global OUTBOX_TASKS_BEFORE
    fill()
    team = Team.objects.get(name="Bench queue")
    agents = [bench_user(f"bench-agent-{n}", Role.AGENT, team) for n in range(8)]
    total = Case.objects.count()
    print(f"database: {connection.vendor}, {total:,} cases; load: {os.getloadavg()}")
    OUTBOX_TASKS_BEFORE = OrmQ.objects.aggregate(last=Max("id"))["last"] or 0
    one, threads, processes = open_cases(0, 1000), open_cases(1000, 1200), open_cases(2200, 1200)
    added = notice_contacts(one + threads + processes)
    print(f"(customer-visible: each case's customer has an e-mail address; {added} added now)")
    if ONLY != "transitions":
        bench_queue_page(agents[0], team)
    bench_transitions(agents[0], one)
    bench_transitions_threads(agents, threads)
    bench_transitions_processes(agents[:4], processes[:600])
    bench_transitions_processes(agents, processes)
    print(f"load: {os.getloadavg()}")
    if ONLY == "transitions":
        return
    started = timezone.now()
    bench_one_winner(agents[0])
    bench_get_next(agents)
    bench_sla_check()  # escalates breached cases: customer-visible, so notices are written
    outbox_tidy(started)


if __name__ == "__main__":
    main()
