"""The exception queue ("needs a human"): raised once with a reason, decided once by a lead."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cases.models import BusinessCalendar, CaseEvent, CaseType, ExceptionItem, Priority, SlaPolicy
from cases.services import (
    CaseActionError,
    CaseConflict,
    case_create,
    exception_decide,
    exception_raise,
)
from tests.factories import CaseFactory, CustomerFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.mark.django_db
def test_raising_the_same_open_exception_twice_keeps_one(agent) -> None:
    case = CaseFactory()
    first = exception_raise(source="rules", reason="No rule matched", case=case)
    second = exception_raise(source="rules", reason="No rule matched", case=case)
    assert first == second and ExceptionItem.objects.count() == 1
    assert CaseEvent.objects.get(case=case).kind == "exception"


@pytest.mark.django_db
def test_a_calendar_without_hours_raises_an_exception_instead_of_failing(agent) -> None:
    calendar = BusinessCalendar.objects.create(name="Empty")
    kind = CaseType.objects.create(name_de="Störung", name_en="Outage")
    SlaPolicy.objects.create(
        case_type=kind,
        priority=Priority.NORMAL,
        calendar=calendar,
        first_response_minutes=60,
        resolution_minutes=600,
    )
    case = case_create(customer=CustomerFactory(), subject="Kein Netz", by=agent, case_type=kind)
    assert case.resolution_due is None
    item = ExceptionItem.objects.get()
    assert "Empty" in item.reason and case.reference in item.reason


@pytest.mark.django_db
def test_supervisor_sees_and_decides_an_exception_over_htmx(supervisor, supervisor_client) -> None:
    case = CaseFactory()
    item = exception_raise(source="intake", reason="Sender matches two customers", case=case)
    inbox = supervisor_client.get(reverse("cases:escalation-inbox")).content.decode()
    assert "Sender matches two customers" in inbox
    url = reverse("cases:exception-decide", args=[item.pk])
    response = supervisor_client.post(url, {"decision": ""}, **HTMX)
    assert response.status_code == 400
    assert "Write down what you decided" in response.content.decode()
    response = supervisor_client.post(url, {"decision": "Belongs to K-500001"}, **HTMX)
    assert response.status_code == 200
    assert f'id="exception-{item.pk}"' in response.content.decode()
    item.refresh_from_db()
    assert (item.decided_by, item.decision) == (supervisor, "Belongs to K-500001")
    assert (
        "Sender matches"
        not in supervisor_client.get(reverse("cases:escalation-inbox")).content.decode()
    )
    assert case.events.filter(kind="exception", transition="decided").count() == 1


@pytest.mark.django_db
def test_an_exception_is_decided_only_once(supervisor, admin_user) -> None:
    item = exception_raise(source="notify", reason="SMS gateway refused the number")
    stale = ExceptionItem.objects.get(pk=item.pk)
    exception_decide(item=item, by=supervisor, decision="Called the customer instead")
    with pytest.raises(CaseConflict):
        exception_decide(item=stale, by=admin_user, decision="Something else")
    item.refresh_from_db()
    assert item.decided_by == supervisor


@pytest.mark.django_db
def test_empty_decision_is_refused(supervisor) -> None:
    item = exception_raise(source="notify", reason="Mail bounced")
    with pytest.raises(CaseActionError):
        exception_decide(item=item, by=supervisor, decision="  ")


@pytest.mark.django_db
def test_agents_cannot_decide_exceptions(agent_client) -> None:
    item = exception_raise(source="notify", reason="Mail bounced")
    url = reverse("cases:exception-decide", args=[item.pk])
    assert agent_client.post(url, {"decision": "x"}, **HTMX).status_code == 403
