"""Every transition from every source state for every role: allowed, or refused unchanged."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from django_fsm import ConcurrentTransition

from cases.lifecycle import targets_of
from cases.models import Case, CaseEvent, CaseState
from cases.services import (
    CaseActionError,
    CaseConflict,
    TransitionForbidden,
    TransitionInput,
    TransitionRefused,
    case_create,
    case_transition,
)
from cpm.roles import Role
from tests.conftest import user_with_role
from tests.factories import CaseFactory, CustomerFactory

EVERYONE = {Role.AGENT, Role.SUPERVISOR, Role.ADMIN}
LEADS = {Role.SUPERVISOR, Role.ADMIN}
WORKING = {
    CaseState.NEW,
    CaseState.OPEN,
    CaseState.WAITING_CUSTOMER,
    CaseState.WAITING_THIRD_PARTY,
}
WAITING = {CaseState.WAITING_CUSTOMER, CaseState.WAITING_THIRD_PARTY}
# (transition, source states, roles allowed, target); a transition may have several rows
# when who may fire it depends on the source (agents resolve open cases, supervisors
# resolve escalated ones).
LIFE_CYCLE: list[tuple[str, set[CaseState], set[Role], CaseState]] = [
    ("open", {CaseState.NEW}, EVERYONE, CaseState.OPEN),
    ("wait_for_customer", {CaseState.OPEN}, EVERYONE, CaseState.WAITING_CUSTOMER),
    ("wait_for_third_party", {CaseState.OPEN}, EVERYONE, CaseState.WAITING_THIRD_PARTY),
    ("resume", WAITING, EVERYONE, CaseState.OPEN),
    ("escalate", WORKING, EVERYONE, CaseState.ESCALATED),
    ("take_over", {CaseState.ESCALATED}, LEADS, CaseState.ESCALATED),
    ("de_escalate", {CaseState.ESCALATED}, LEADS, CaseState.OPEN),
    ("resolve", {CaseState.OPEN}, EVERYONE, CaseState.RESOLVED),
    ("resolve", {CaseState.ESCALATED}, LEADS, CaseState.RESOLVED),
    ("reopen", {CaseState.RESOLVED}, EVERYONE, CaseState.OPEN),
    ("close", {CaseState.RESOLVED}, LEADS, CaseState.CLOSED),
    ("cancel", {*WORKING, CaseState.ESCALATED}, LEADS, CaseState.CANCELLED),
    # Merging has its own service and tests (test_merge.py); `case_transition` refuses it.
    ("merge", {*WORKING, CaseState.RESOLVED}, EVERYONE, CaseState.CLOSED),
    ("merge", {CaseState.ESCALATED}, LEADS, CaseState.CLOSED),
    *(
        ("unmerge", {CaseState.CLOSED}, LEADS, back)
        for back in (*WORKING, CaseState.ESCALATED, CaseState.RESOLVED)
    ),
]
OWN_SERVICE = {"merge", "unmerge"}
NAMES = sorted({row[0] for row in LIFE_CYCLE} - OWN_SERVICE)
INPUT = TransitionInput(resolution="Invoice corrected.", reason="Customer called again.")


def expected_outcome(name: str, source: CaseState, role: Role) -> CaseState | type[Exception]:
    rows = [row for row in LIFE_CYCLE if row[0] == name and source in row[1]]
    if not rows:
        return TransitionRefused
    _name, _sources, roles, target = rows[0]
    return target if role in roles else TransitionForbidden


def test_life_cycle_table_matches_the_model() -> None:
    """The table above is the specification: every declared transition is in it, and no more."""
    declared = {
        (t.name, t.source, target)
        for t in Case._meta.get_field("state").get_all_transitions(Case)
        for target in targets_of(t)
    }
    specified = {
        (name, source, target) for name, sources, _roles, target in LIFE_CYCLE for source in sources
    }
    assert declared == specified


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("source", list(CaseState))
@pytest.mark.parametrize("name", NAMES)
def test_transition_is_allowed_only_from_its_sources_for_its_roles(
    name: str, source: CaseState, role: Role
) -> None:
    expected = expected_outcome(name, source, role)
    user = user_with_role("someone", role)
    case = CaseFactory(state=source)
    if isinstance(expected, str):
        case_transition(case=case, name=name, by=user, data=INPUT)
        case.refresh_from_db()
        assert case.state == expected
        event = CaseEvent.objects.get(case=case, transition=name)
        assert (event.source, event.target, event.by) == (source, expected, user)
        return
    with pytest.raises(expected):
        case_transition(case=case, name=name, by=user, data=INPUT)
    case.refresh_from_db()
    assert case.state == source
    assert not CaseEvent.objects.filter(case=case).exists()


@pytest.mark.django_db
def test_resolve_rejects_case_without_resolution(agent) -> None:
    case = CaseFactory(state=CaseState.OPEN)
    with pytest.raises(CaseActionError, match="resolved"):
        case_transition(case=case, name="resolve", by=agent, data=TransitionInput(resolution="  "))
    case.refresh_from_db()
    assert case.state == CaseState.OPEN


@pytest.mark.django_db
def test_reopen_needs_a_reason(agent) -> None:
    case = CaseFactory(state=CaseState.RESOLVED)
    with pytest.raises(CaseActionError, match="reopened"):
        case_transition(case=case, name="reopen", by=agent)


@pytest.mark.django_db
def test_unknown_transition_is_refused(agent) -> None:
    case = CaseFactory(state=CaseState.NEW)
    with pytest.raises(TransitionRefused, match="no action"):
        case_transition(case=case, name="save", by=agent)


@pytest.mark.django_db
def test_user_who_saw_an_old_state_gets_a_conflict(agent) -> None:
    case = CaseFactory(state=CaseState.OPEN)
    with pytest.raises(CaseConflict, match="It is now Open"):
        case_transition(case=case, name="open", by=agent, expected_state=CaseState.NEW)


@pytest.mark.django_db(transaction=True)
def test_two_agents_one_case_exactly_one_winner(agent, supervisor) -> None:
    case = CaseFactory(state=CaseState.OPEN)
    first = Case.objects.get(pk=case.pk)
    second = Case.objects.get(pk=case.pk)
    case_transition(case=first, name="resolve", by=agent, data=INPUT)
    with pytest.raises(CaseConflict, match="It is now Resolved"):
        case_transition(case=second, name="resolve", by=supervisor, data=INPUT)
    assert CaseEvent.objects.filter(case=case, transition="resolve").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_save_raises_in_the_mixin_too(agent) -> None:
    case = CaseFactory(state=CaseState.NEW)
    first = Case.objects.get(pk=case.pk)
    second = Case.objects.get(pk=case.pk)
    first.open(by=agent, data=TransitionInput())
    first.save()
    second.open(by=agent, data=TransitionInput())
    with pytest.raises(ConcurrentTransition), transaction.atomic():
        second.save()


@pytest.mark.django_db
def test_case_create_draws_a_yearly_reference_and_records_the_event(agent) -> None:
    customer = CustomerFactory()
    one = case_create(customer=customer, subject="Umzug", by=agent)
    two = case_create(customer=customer, subject="Rechnung", by=agent)
    assert one.reference.startswith("C-20") and len(one.reference) == len("C-2026-000001")
    assert int(two.reference[-6:]) == int(one.reference[-6:]) + 1
    assert one.state == CaseState.NEW
    assert one.events.get().kind == "created"


def test_state_field_cannot_be_assigned_directly() -> None:
    case = Case(state=CaseState.NEW)
    with pytest.raises(AttributeError):
        case.state = CaseState.CLOSED


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "source", "message"),
    [
        ("escalate", CaseState.OPEN, "escalated"),
        ("de_escalate", CaseState.ESCALATED, "instruction"),
        ("cancel", CaseState.OPEN, "cancelled"),
        ("resolve", CaseState.ESCALATED, "resolved"),
    ],
)
def test_transitions_that_need_a_text_refuse_without_it(
    supervisor, name: str, source: CaseState, message: str
) -> None:
    case = CaseFactory(state=source)
    with pytest.raises(CaseActionError, match=message):
        case_transition(case=case, name=name, by=supervisor, data=TransitionInput(reason=" "))
    case.refresh_from_db()
    assert case.state == source
    assert not CaseEvent.objects.exists()


@pytest.mark.django_db
def test_reopen_within_the_window_clears_the_resolution(agent, settings) -> None:
    settings.CPM_CASE_REOPEN_DAYS = 14
    case = CaseFactory(state=CaseState.OPEN)
    case_transition(case=case, name="resolve", by=agent, data=INPUT)
    assert case.resolved_at is not None
    case_transition(case=case, name="reopen", by=agent, data=INPUT)
    case.refresh_from_db()
    assert (case.state, case.resolution, case.resolved_at) == (CaseState.OPEN, "", None)


@pytest.mark.django_db
def test_reopen_after_the_window_is_refused_with_a_clear_message(agent, settings) -> None:
    settings.CPM_CASE_REOPEN_DAYS = 14
    case = CaseFactory(
        state=CaseState.RESOLVED, resolved_at=timezone.now() - timedelta(days=14, minutes=1)
    )
    with pytest.raises(TransitionRefused, match=r"more than 14 days ago.*new related case"):
        case_transition(case=case, name="reopen", by=agent, data=INPUT)
    case.refresh_from_db()
    assert case.state == CaseState.RESOLVED
    assert not CaseEvent.objects.exists()


@pytest.mark.django_db
def test_escalation_round_trip_records_who_why_and_the_instruction(agent, supervisor) -> None:
    case = CaseFactory(state=CaseState.OPEN, assignee=agent)
    case_transition(
        case=case, name="escalate", by=agent, data=TransitionInput(reason="Refund over 500 EUR")
    )
    assert (case.escalated_by, case.escalation_reason) == (agent, "Refund over 500 EUR")
    case_transition(case=case, name="take_over", by=supervisor)
    assert case.assignee == supervisor
    case_transition(
        case=case, name="de_escalate", by=supervisor, data=TransitionInput(reason="Refund 500.")
    )
    case.refresh_from_db()
    assert (case.state, case.assignee, case.instruction) == (CaseState.OPEN, agent, "Refund 500.")
    steps = list(case.events.order_by("at", "id").values_list("transition", "reason"))
    assert steps == [
        ("escalate", "Refund over 500 EUR"),
        ("take_over", ""),
        ("de_escalate", "Refund 500."),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(OWN_SERVICE))
def test_merge_transitions_are_not_fired_by_name(name: str, supervisor) -> None:
    case = CaseFactory(state=CaseState.OPEN)
    with pytest.raises(TransitionRefused, match="no action called"):
        case_transition(case=case, name=name, by=supervisor)
    case.refresh_from_db()
    assert case.state == CaseState.OPEN
