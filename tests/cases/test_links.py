"""Linked cases, and the follow-up case for a matter that is past the reopen window."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.models import CaseLink, CaseState, Team
from cases.services import CaseActionError, TransitionRefused, case_follow_up_create, case_link
from tests.factories import CaseFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.mark.django_db
def test_link_shows_on_both_cases_and_is_recorded_on_both(agent, agent_client) -> None:
    one, two = CaseFactory(subject="Rechnung"), CaseFactory(subject="Mahnung")
    url = reverse("cases:case-link-add", args=[one.reference])
    response = agent_client.post(url, {"reference": f" {two.reference.lower()} "}, **HTMX)
    assert response.status_code == 200
    assert f'id="case-{one.pk}-links"' in response.content.decode()
    assert two.reference in response.content.decode()
    assert one.reference in agent_client.get(two.get_absolute_url()).content.decode()
    assert one.events.filter(kind="note").count() == two.events.filter(kind="note").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("reference", "message"),
    [("C-1999-000001", "There is no case"), ("self", "itself"), ("", "There is no case")],
)
def test_bad_link_is_a_400_with_a_message(agent_client, reference: str, message: str) -> None:
    case = CaseFactory()
    url = reverse("cases:case-link-add", args=[case.reference])
    data = {"reference": case.reference if reference == "self" else reference}
    response = agent_client.post(url, data, **HTMX)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not CaseLink.objects.exists()


@pytest.mark.django_db
def test_the_same_pair_is_linked_once_in_either_direction(agent) -> None:
    one, two = CaseFactory(), CaseFactory()
    case_link(case=one, reference=two.reference, by=agent)
    with pytest.raises(CaseActionError, match="already linked"):
        case_link(case=two, reference=one.reference, by=agent)


@pytest.mark.django_db
def test_follow_up_of_an_old_resolved_case_is_a_new_linked_case(agent, agent_client) -> None:
    team = Team.objects.create(name="Billing")
    old = CaseFactory(
        state=CaseState.RESOLVED,
        team=team,
        resolved_at=timezone.now() - timedelta(days=90),
        subject="Rechnung falsch",
    )
    assert "Open a follow-up case" in agent_client.get(old.get_absolute_url()).content.decode()
    response = agent_client.post(reverse("cases:case-follow-up", args=[old.reference]), **HTMX)
    link = CaseLink.objects.get()
    new = link.target
    assert response.headers["HX-Redirect"] == new.get_absolute_url()
    assert (link.source, link.kind) == (old, "follow_up")
    assert (new.customer, new.subject, new.team, new.state) == (
        old.customer,
        "Rechnung falsch",
        team,
        CaseState.NEW,
    )


@pytest.mark.django_db
def test_an_open_case_gets_no_follow_up(agent) -> None:
    with pytest.raises(TransitionRefused):
        case_follow_up_create(case=CaseFactory(state=CaseState.OPEN), by=agent)
    assert not CaseLink.objects.exists()
