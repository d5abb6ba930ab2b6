"""SLA clocks on cases, with a frozen clock: start, pause while waiting, resume, warn, breach."""

from __future__ import annotations

import importlib
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from cases import tasks
from cases.models import (
    BusinessCalendar,
    Case,
    CaseEvent,
    CaseState,
    CaseType,
    Priority,
    SlaPolicy,
    WorkingHours,
)
from cases.services import (
    TransitionInput,
    case_create,
    case_transition,
    sla_check,
    sla_policies_load,
)
from tests.factories import CustomerFactory

BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


@pytest.fixture
def clock(monkeypatch):
    """Freeze django.utils.timezone.now at a Berlin wall-clock time; call again to move it."""

    def set_to(text: str) -> datetime:
        instant = at(text)
        monkeypatch.setattr(timezone, "now", lambda: instant)
        return instant

    return set_to


@pytest.fixture
def outage(db) -> CaseType:
    """Mon-Fri 8-18 in Berlin; normal priority: first response 60 min, resolution 600 min."""
    calendar = BusinessCalendar.objects.create(name="Berlin", german_state="BE")
    for day in range(5):
        WorkingHours.objects.create(calendar=calendar, weekday=day, opens=time(8), closes=time(18))
    kind = CaseType.objects.create(name_de="Störung", name_en="Outage")
    SlaPolicy.objects.create(
        case_type=kind,
        priority=Priority.NORMAL,
        calendar=calendar,
        first_response_minutes=60,
        resolution_minutes=600,
    )
    return kind


def sla_changes(case: Case) -> list[str]:
    return list(
        case.events.filter(kind="sla").order_by("at", "id").values_list("transition", flat=True)
    )


@pytest.mark.django_db
def test_new_case_gets_its_due_times_in_working_hours(agent, outage, clock) -> None:
    clock("2026-11-27 17:30")  # a Friday evening
    case = case_create(customer=CustomerFactory(), subject="Kein Netz", by=agent, case_type=outage)
    assert case.response_due == at("2026-11-30 08:30")  # 30 min on Friday, 30 on Monday
    assert case.resolution_due == at("2026-11-30 17:30")
    assert case.sla_warn_at == at("2026-11-30 15:30")  # 80 % of 600 minutes
    assert sla_changes(case) == ["started"]


@pytest.mark.django_db
def test_case_without_a_policy_has_no_clock(agent, clock) -> None:
    clock("2026-11-24 09:00")
    case = case_create(customer=CustomerFactory(), subject="Frage", by=agent)
    assert case.resolution_due is None and case.sla_status == ""


@pytest.mark.django_db
def test_clock_pauses_while_waiting_on_the_customer_and_resumes_after(agent, outage, clock) -> None:
    clock("2026-11-23 09:00")  # Monday
    case = case_create(customer=CustomerFactory(), subject="Kein Netz", by=agent, case_type=outage)
    assert case.resolution_due == at("2026-11-24 09:00")
    clock("2026-11-23 09:30")
    case_transition(case=case, name="open", by=agent)
    assert case.responded_at == at("2026-11-23 09:30")
    clock("2026-11-23 10:00")
    case_transition(case=case, name="wait_for_customer", by=agent)
    assert case.sla_status == "paused"
    clock("2026-11-25 10:00")  # two days later the customer answers
    case_transition(case=case, name="resume", by=agent)
    # 9 working hours were left at the pause: Wednesday 10-18, then Thursday 8-9.
    assert case.resolution_due == at("2026-11-26 09:00")
    assert case.sla_paused_at is None
    assert sla_changes(case) == ["started", "paused", "resumed"]
    resumed = case.events.get(kind="sla", transition="resumed")
    assert resumed.due == at("2026-11-26 09:00")


@pytest.mark.django_db
def test_waiting_on_a_third_party_does_not_stop_the_clock(agent, outage, clock) -> None:
    clock("2026-11-23 09:00")
    case = case_create(customer=CustomerFactory(), subject="Kein Netz", by=agent, case_type=outage)
    case_transition(case=case, name="open", by=agent)
    case_transition(case=case, name="wait_for_third_party", by=agent)
    assert case.sla_paused_at is None and sla_changes(case) == ["started"]


@pytest.mark.django_db
def test_resolve_stops_and_reopen_resumes_the_clock(agent, outage, clock) -> None:
    clock("2026-11-23 09:00")
    case = case_create(customer=CustomerFactory(), subject="Kein Netz", by=agent, case_type=outage)
    case_transition(case=case, name="open", by=agent)
    clock("2026-11-23 11:00")
    case_transition(case=case, name="resolve", by=agent, data=TransitionInput(resolution="Ok"))
    clock("2026-11-24 11:00")
    case_transition(case=case, name="reopen", by=agent, data=TransitionInput(reason="Again"))
    assert case.resolution_due == at("2026-11-25 09:00")  # 8 h left at 11:00 Monday
    assert sla_changes(case) == ["started", "stopped", "resumed"]


@pytest.mark.django_db
def test_minute_check_warns_once_raises_priority_then_marks_the_breach(
    agent, supervisor_client, outage, clock
) -> None:
    clock("2026-11-23 09:00")
    case = case_create(customer=CustomerFactory(), subject="Kein Netz", by=agent, case_type=outage)
    assert sla_check(now=clock("2026-11-23 16:59")) == {"warned": 0, "breached": 0}
    assert sla_check(now=clock("2026-11-23 17:00")) == {"warned": 1, "breached": 0}
    assert sla_check(now=clock("2026-11-23 17:01")) == {"warned": 0, "breached": 0}
    case.refresh_from_db()
    assert (case.priority, case.sla_status) == (Priority.HIGH, "at-risk")
    assert tasks.check_sla() == {"warned": 0, "breached": 0}
    clock("2026-11-24 09:00")
    assert tasks.check_sla() == {"warned": 0, "breached": 1}
    case.refresh_from_db()
    assert case.sla_status == "breached"
    assert sla_changes(case) == ["started", "warned", "breached"]
    html = supervisor_client.get(reverse("cases:escalation-inbox")).content.decode()
    assert case.reference in html and "SLA breached" in html


@pytest.mark.django_db
def test_a_paused_clock_is_never_warned_or_breached(agent, outage, clock) -> None:
    clock("2026-11-23 09:00")
    case = case_create(customer=CustomerFactory(), subject="Kein Netz", by=agent, case_type=outage)
    case_transition(case=case, name="open", by=agent)
    case_transition(case=case, name="wait_for_customer", by=agent)
    assert sla_check(now=clock("2026-12-01 12:00")) == {"warned": 0, "breached": 0}
    assert not CaseEvent.objects.filter(transition__in=["warned", "breached"]).exists()


@pytest.mark.django_db
def test_queue_and_case_show_the_countdown(agent, agent_client, outage) -> None:
    case = case_create(customer=CustomerFactory(), subject="Kein Netz", by=agent, case_type=outage)
    case_transition(case=case, name="open", by=agent)
    Case.objects.filter(pk=case.pk).update(assignee=agent)
    assert "sla sla-" in agent_client.get(reverse("home")).content.decode()
    assert "Resolution due" in agent_client.get(case.get_absolute_url()).content.decode()


@pytest.mark.django_db
def test_the_migration_schedules_the_check_every_minute() -> None:
    migration = importlib.import_module("cases.migrations.0005_sla_check_schedule")
    Schedule.objects.filter(name="cases.check_sla").delete()  # as after a flush
    migration.schedule_create(apps, None)
    schedule = Schedule.objects.get(name="cases.check_sla")
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == (
        "cases.tasks.check_sla",
        Schedule.MINUTES,
        1,
    )


@pytest.mark.django_db
def test_a_transition_on_a_stale_copy_keeps_the_warning_the_check_wrote(
    agent, outage, clock
) -> None:
    clock("2026-11-23 09:00")
    case = case_create(customer=CustomerFactory(), subject="Kein Netz", by=agent, case_type=outage)
    case_transition(case=case, name="open", by=agent)
    stale = Case.objects.get(pk=case.pk)
    assert sla_check(now=clock("2026-11-23 17:30"))["warned"] == 1
    case_transition(case=stale, name="wait_for_third_party", by=agent)
    stale.refresh_from_db()
    assert stale.state == CaseState.WAITING_THIRD_PARTY
    assert (stale.sla_warned_at, stale.priority) == (at("2026-11-23 17:30"), Priority.HIGH)


@pytest.mark.django_db
@pytest.mark.parametrize("state", ["new", "open", "waiting_third_party"])
def test_a_breach_escalates_the_case_to_the_supervisors(
    agent, supervisor_client, outage, clock, state: str
) -> None:
    clock("2026-11-23 09:00")
    case = case_create(customer=CustomerFactory(), subject="Kein Netz", by=agent, case_type=outage)
    if state != "new":
        case_transition(case=case, name="open", by=agent)
    if state == "waiting_third_party":
        case_transition(case=case, name="wait_for_third_party", by=agent)
    responded = Case.objects.get(pk=case.pk).responded_at
    assert sla_check(now=clock("2026-11-24 09:00"))["breached"] == 1
    case.refresh_from_db()
    assert case.state == CaseState.ESCALATED
    assert (case.escalation_reason, case.escalated_by) == ("Resolution SLA breached.", None)
    assert case.responded_at == responded  # CPM's escalation is no response to the customer
    assert case.sla_breached_at == at("2026-11-24 09:00")
    event = CaseEvent.objects.get(case=case, transition="escalate")
    assert (event.source, event.target, event.by, event.reason) == (
        state,
        CaseState.ESCALATED,
        None,
        "Resolution SLA breached.",
    )
    html = supervisor_client.get(reverse("cases:escalation-inbox")).content.decode()
    assert case.reference in html and "Resolution SLA breached." in html
    assert sla_check(now=clock("2026-11-24 10:00"))["breached"] == 0
    assert CaseEvent.objects.filter(case=case, transition="escalate").count() == 1


@pytest.mark.django_db
def test_a_breach_of_an_escalated_case_only_marks_it(agent, outage, clock) -> None:
    clock("2026-11-23 09:00")
    case = case_create(customer=CustomerFactory(), subject="Kein Netz", by=agent, case_type=outage)
    case_transition(
        case=case, name="escalate", by=agent, data=TransitionInput(reason="Customer is angry")
    )
    assert sla_check(now=clock("2026-11-24 09:00"))["breached"] == 1
    case.refresh_from_db()
    assert (case.state, case.escalation_reason, case.escalated_by) == (
        CaseState.ESCALATED,
        "Customer is angry",
        agent,
    )
    assert CaseEvent.objects.filter(case=case, transition="escalate").count() == 1


def test_the_policies_are_read_with_two_statements_however_many_there_are(
    outage, django_assert_num_queries
):
    """Every process reads the policies when its memo expires: policies, calendars and
    working hours together, not one statement per policy."""
    calendar = BusinessCalendar.objects.get(name="Berlin")
    for n in range(8):
        kind = CaseType.objects.create(name_de=f"Art {n}", name_en=f"Kind {n}")
        for priority in (Priority.NORMAL, Priority.HIGH):
            SlaPolicy.objects.create(
                case_type=kind,
                priority=priority,
                calendar=calendar,
                first_response_minutes=60,
                resolution_minutes=600,
            )
    with django_assert_num_queries(2):  # policies with calendars, their working hours
        policies = sla_policies_load()
    assert len(policies) == 17
    hours = policies[(outage.pk, Priority.NORMAL)][1]
    assert hours.hours[0] == ((time(8), time(18)),)
    assert 5 not in hours.hours  # Saturday: closed
