"""Every transition from every source state for every role: allowed, or refused unchanged."""

from __future__ import annotations

import pytest
from django.db import transaction
from django_fsm import ConcurrentTransition

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

# transition -> (source states, roles allowed, target)
LIFE_CYCLE = {
    "open": ({CaseState.NEW}, {Role.AGENT, Role.SUPERVISOR, Role.ADMIN}, CaseState.OPEN),
    "resolve": ({CaseState.OPEN}, {Role.AGENT, Role.SUPERVISOR, Role.ADMIN}, CaseState.RESOLVED),
    "reopen": ({CaseState.RESOLVED}, {Role.AGENT, Role.SUPERVISOR, Role.ADMIN}, CaseState.OPEN),
    "close": ({CaseState.RESOLVED}, {Role.SUPERVISOR, Role.ADMIN}, CaseState.CLOSED),
}
INPUT = TransitionInput(resolution="Invoice corrected.", reason="Customer called again.")


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("source", list(CaseState))
@pytest.mark.parametrize("name", sorted(LIFE_CYCLE))
def test_transition_is_allowed_only_from_its_sources_for_its_roles(
    name: str, source: CaseState, role: Role
) -> None:
    sources, roles, target = LIFE_CYCLE[name]
    user = user_with_role("someone", role)
    case = CaseFactory(state=source)
    if source in sources and role in roles:
        case_transition(case=case, name=name, by=user, data=INPUT)
        case.refresh_from_db()
        assert case.state == target
        event = CaseEvent.objects.get(case=case, transition=name)
        assert (event.source, event.target, event.by) == (source, target, user)
        return
    expected = TransitionRefused if source not in sources else TransitionForbidden
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
    first.open()
    first.save()
    second.open()
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
