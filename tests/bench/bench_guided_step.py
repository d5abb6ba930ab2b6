"""Benchmark: submitting a guided step (validate, evaluate routes and rules, record, render).

    .venv/bin/pytest tests/bench/bench_guided_step.py -s
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cpm \\
        .venv/bin/pytest tests/bench/bench_guided_step.py -s

A process of 30 steps with 100 rules (3-4 conditional routes per step over the answers,
the customer and the holdings, plus a default). Each request answers the current step
through the real view (htmx POST), so the figure includes the form, the rules, the
records, the actions and the next step's fragment. The query count per request is exact.
"""

from __future__ import annotations

import statistics
import time

import pytest
from django.db import connection
from django.urls import reverse

from cases.models import CaseState, GuidedRun
from guidance.services import process_import
from tests.factories import CaseFactory

STEPS = 30
ROUNDS = 300


def big_process_yaml() -> str:
    lines = ["key: bench", "name_de: Bench", "name_en: Bench", "steps:"]
    rules = 0
    for n in range(STEPS):
        nxt = f"s{n + 1}" if n + 1 < STEPS else "s0"
        lines += [
            f"  - key: s{n}",
            "    kind: form",
            f"    title_de: Schritt {n}",
            f"    title_en: Step {n}",
            "    instruction_en: Ask the customer **one** thing.",
            "    fields:",
            f"      - {{key: amount_{n}, type: money, label_de: Betrag, label_en: Amount}}",
            f"      - {{key: note_{n}, type: text, label_de: Notiz, label_en: Note,"
            " required: false}",
            "    routes:",
        ]
        conditions = [
            f"answers.amount_{n} < 0",
            f'answers.amount_{n} > 100000 && customer.segment == "premium"',
            'holdings.exists(h, h.payment_method == "cheque")',
        ]
        if n % 3 == 0:
            conditions.append(f"answers.amount_{n} == 123456.78")
        for condition in conditions:
            lines.append(f"      - {{condition: '{condition}', target: end}}")
            rules += 1
        lines.append(f"      - {{target: {nxt}}}")
    lines += ["  - {key: end, kind: end, title_de: Ende, title_en: End}"]
    assert rules >= 100, rules
    return "\n".join(lines)


@pytest.mark.django_db
def test_bench_guided_step_submit(agent_client, agent) -> None:
    version = process_import(text=big_process_yaml(), by=None, publish=True)
    case = CaseFactory(state=CaseState.OPEN)
    from cases.guided import run_start

    run_start(case=case, version=version, by=agent)
    url = reverse("cases:case-guided-submit", args=[case.reference])

    def submit() -> int:
        run = GuidedRun.objects.values("revision", "current_step").get(case=case)
        step = run["current_step"]
        response = agent_client.post(
            url,
            {"revision": run["revision"], f"amount_{step[1:]}": "12.50", f"note_{step[1:]}": "ok"},
            HTTP_HX_REQUEST="true",
        )
        assert response.status_code == 200, response.content[:500]
        return response.status_code

    submit()
    queries: list[str] = []
    with connection.execute_wrapper(
        lambda execute, sql, *args: queries.append(sql) or execute(sql, *args)
    ):
        submit()
    timings, cpu = [], []
    for _ in range(ROUNDS):
        started, started_cpu = time.perf_counter(), time.process_time()
        submit()
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    timings.sort()
    cpu.sort()
    p50, p95 = statistics.median(timings), timings[int(ROUNDS * 0.95) - 1]
    # The test's own lookup of the revision is one of the counted queries.
    print(
        f"\ndatabase: {connection.vendor}; {STEPS} steps, 100+ rules; {ROUNDS} submits\n"
        f"step submit p50 {p50:.2f} ms  p95 {p95:.2f} ms  "
        f"{len(queries) - 1} queries per submit (view only)\n"
        f"CPU of this process per submit p50 {statistics.median(cpu):.2f} ms  "
        f"p95 {cpu[int(ROUNDS * 0.95) - 1]:.2f} ms (the database server's CPU not included)"
    )
    for sql in queries[1:]:
        print("   ", sql[:110])
