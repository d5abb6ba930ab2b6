"""Escalation inbox for supervisors, and internal notes on the case screen."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.models import CaseEvent, CaseState
from cases.services import TransitionInput, case_transition
from tests.factories import CaseFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.mark.django_db
def test_inbox_lists_escalations_newest_first_with_their_reason(supervisor_client) -> None:
    now = timezone.now()
    older = CaseFactory(
        state=CaseState.ESCALATED,
        escalation_reason="Goodwill over 100 EUR",
        escalated_at=now - timedelta(hours=2),
    )
    newer = CaseFactory(
        state=CaseState.ESCALATED,
        escalation_reason="Customer threatens to leave",
        escalated_at=now - timedelta(minutes=5),
    )
    CaseFactory(state=CaseState.OPEN, subject="Not escalated")
    html = supervisor_client.get(reverse("cases:escalation-inbox")).content.decode()
    assert html.index(newer.reference) < html.index(older.reference)
    assert "Goodwill over 100 EUR" in html and "Customer threatens to leave" in html
    assert "Not escalated" not in html


@pytest.mark.django_db
def test_agents_cannot_see_the_inbox(agent_client) -> None:
    assert agent_client.get(reverse("cases:escalation-inbox")).status_code == 403


@pytest.mark.django_db
def test_escalate_over_htmx_without_reason_is_a_400(agent_client) -> None:
    case = CaseFactory(state=CaseState.OPEN)
    url = reverse("cases:case-transition", args=[case.reference, "escalate"])
    response = agent_client.post(url, {"expected_state": "open", "reason": ""}, **HTMX)
    assert response.status_code == 400
    assert "Say why the case is escalated" in response.content.decode()
    case.refresh_from_db()
    assert case.state == CaseState.OPEN


@pytest.mark.django_db
def test_supervisor_sees_take_over_return_and_resolve_on_an_escalated_case(
    agent, supervisor_client
) -> None:
    case = CaseFactory(state=CaseState.OPEN, assignee=agent)
    case_transition(case=case, name="escalate", by=agent, data=TransitionInput(reason="Help"))
    html = supervisor_client.get(case.get_absolute_url()).content.decode()
    for name in ("take_over", "de_escalate", "resolve", "cancel"):
        assert reverse("cases:case-transition", args=[case.reference, name]) in html


@pytest.mark.django_db
def test_agent_sees_no_escalation_actions(agent, agent_client) -> None:
    case = CaseFactory(state=CaseState.ESCALATED)
    html = agent_client.get(case.get_absolute_url()).content.decode()
    assert "No action is open to you" in html


@pytest.mark.django_db
def test_note_is_added_as_an_event_and_the_history_comes_back(agent, agent_client) -> None:
    case = CaseFactory(state=CaseState.OPEN)
    url = reverse("cases:case-note-add", args=[case.reference])
    response = agent_client.post(url, {"text": "Called back, no answer."}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert f'id="case-{case.pk}-history"' in html
    assert "Called back, no answer." in html
    event = CaseEvent.objects.get(case=case)
    assert (event.kind, event.by, event.reason) == ("note", agent, "Called back, no answer.")


@pytest.mark.django_db
def test_empty_note_is_a_400_and_adds_nothing(agent_client) -> None:
    case = CaseFactory(state=CaseState.OPEN)
    url = reverse("cases:case-note-add", args=[case.reference])
    response = agent_client.post(url, {"text": "   "}, **HTMX)
    assert response.status_code == 400
    assert "Write a note first" in response.content.decode()
    assert not CaseEvent.objects.exists()


@pytest.mark.django_db
def test_too_long_note_is_refused_and_keeps_the_text(agent_client) -> None:
    case = CaseFactory(state=CaseState.OPEN)
    url = reverse("cases:case-note-add", args=[case.reference])
    response = agent_client.post(url, {"text": "x" * 5001}, **HTMX)
    assert response.status_code == 400
    assert "x" * 5001 in response.content.decode()
    assert not CaseEvent.objects.exists()


@pytest.mark.django_db
def test_note_text_is_escaped(agent_client) -> None:
    case = CaseFactory(state=CaseState.OPEN)
    url = reverse("cases:case-note-add", args=[case.reference])
    html = agent_client.post(url, {"text": "<script>x()</script>"}, **HTMX).content.decode()
    assert "<script>x()</script>" not in html


@pytest.mark.django_db
def test_admin_edits_case_types_and_teams_in_the_admin(admin_client) -> None:
    for name in ("casetype", "team"):
        assert admin_client.get(reverse(f"admin:cases_{name}_add")).status_code == 200
    response = admin_client.post(
        reverse("admin:cases_team_add"), {"name": "Billing", "members": []}
    )
    assert response.status_code == 302
