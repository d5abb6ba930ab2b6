from __future__ import annotations

import pytest
from django.urls import reverse

from cases.models import CaseEvent, CaseState
from tests.factories import CaseFactory, InteractionFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


def transition_url(case, name: str) -> str:
    return reverse("cases:case-transition", args=[case.reference, name])


@pytest.mark.django_db
def test_home_lists_my_cases_and_the_open_cases(agent, agent_client) -> None:
    mine = CaseFactory(state=CaseState.OPEN, assignee=agent, subject="Mine to do")
    other = CaseFactory(state=CaseState.NEW, subject="Waiting for someone")
    done = CaseFactory(state=CaseState.CLOSED, subject="Long done")
    html = agent_client.get(reverse("home")).content.decode()
    assert mine.reference in html and other.reference in html
    assert done.reference not in html


@pytest.mark.django_db
def test_case_page_shows_case_buttons_and_loads_the_timeline(agent_client) -> None:
    case = CaseFactory(state=CaseState.NEW)
    response = agent_client.get(case.get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 200
    assert case.reference in html
    assert transition_url(case, "open") in html
    assert reverse("customers:customer-timeline", args=[case.customer_id]) in html
    assert response.headers["Vary"].count("HX-Request") == 1


@pytest.mark.django_db
def test_htmx_transition_returns_the_new_header_and_a_case_event(agent_client) -> None:
    case = CaseFactory(state=CaseState.NEW)
    response = agent_client.post(transition_url(case, "open"), {"expected_state": "new"}, **HTMX)
    assert response.status_code == 200
    assert f'id="case-{case.pk}-header"' in response.content.decode()
    assert "case:updated" in response.headers["HX-Trigger"]
    case.refresh_from_db()
    assert case.state == CaseState.OPEN


@pytest.mark.django_db
def test_forbidden_transition_is_a_403_with_a_message_and_changes_nothing(agent_client) -> None:
    case = CaseFactory(state=CaseState.RESOLVED)
    response = agent_client.post(
        transition_url(case, "close"), {"expected_state": "resolved"}, **HTMX
    )
    assert response.status_code == 403
    assert "not allowed" in response.content.decode()
    case.refresh_from_db()
    assert case.state == CaseState.RESOLVED
    assert not CaseEvent.objects.exists()


@pytest.mark.django_db
def test_transition_from_wrong_state_is_a_409_and_changes_nothing(supervisor_client) -> None:
    case = CaseFactory(state=CaseState.NEW)
    response = supervisor_client.post(transition_url(case, "close"), {}, **HTMX)
    assert response.status_code == 409
    assert "not possible" in response.content.decode()
    case.refresh_from_db()
    assert case.state == CaseState.NEW


@pytest.mark.django_db
def test_stale_page_gets_a_conflict_and_keeps_the_typed_resolution(agent_client) -> None:
    case = CaseFactory(state=CaseState.RESOLVED)
    response = agent_client.post(
        transition_url(case, "resolve"),
        {"expected_state": "open", "resolution": "Refunded 12 EUR"},
        **HTMX,
    )
    html = response.content.decode()
    assert response.status_code == 409
    assert "Someone else changed this case" in html
    assert "Refunded 12 EUR" in html


@pytest.mark.django_db
def test_missing_resolution_is_a_400_with_a_clear_message(agent_client) -> None:
    case = CaseFactory(state=CaseState.OPEN)
    response = agent_client.post(transition_url(case, "resolve"), {"resolution": ""}, **HTMX)
    assert response.status_code == 400
    assert "Say how the matter was resolved" in response.content.decode()


@pytest.mark.django_db
def test_too_long_resolution_is_refused(agent_client) -> None:
    case = CaseFactory(state=CaseState.OPEN)
    response = agent_client.post(
        transition_url(case, "resolve"), {"resolution": "x" * 5001}, **HTMX
    )
    assert response.status_code == 400
    case.refresh_from_db()
    assert case.state == CaseState.OPEN


@pytest.mark.django_db
def test_plain_form_post_redirects_with_a_message(agent_client) -> None:
    case = CaseFactory(state=CaseState.RESOLVED)
    response = agent_client.post(transition_url(case, "close"), {}, follow=True)
    assert "not allowed" in response.content.decode()


@pytest.mark.django_db
def test_unknown_case_is_a_404(agent_client) -> None:
    assert agent_client.get(reverse("cases:case-detail", args=["C-1999-000001"])).status_code == 404


@pytest.mark.django_db
def test_customer_text_is_escaped_on_the_case_page(agent_client) -> None:
    case = CaseFactory(subject="<script>alert(1)</script>")
    InteractionFactory(customer=case.customer, body='<img src=x onerror="alert(2)">')
    html = agent_client.get(case.get_absolute_url()).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    timeline = agent_client.get(reverse("customers:customer-timeline", args=[case.customer_id]))
    assert "<img src=x" not in timeline.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("contacts", [10, 300])
def test_case_page_query_count_does_not_grow_with_history(
    agent_client, django_assert_max_num_queries, contacts: int
) -> None:
    case = CaseFactory(state=CaseState.OPEN)
    InteractionFactory.create_batch(contacts, customer=case.customer)
    # 11: the inbound-messages panel (issue 5) adds one query, whatever the history.
    with django_assert_max_num_queries(11):
        agent_client.get(case.get_absolute_url())


@pytest.mark.django_db
def test_resolved_case_past_the_reopen_window_says_why_it_has_no_reopen(agent_client) -> None:
    from datetime import timedelta

    from django.utils import timezone

    case = CaseFactory(state=CaseState.RESOLVED, resolved_at=timezone.now() - timedelta(days=90))
    html = agent_client.get(case.get_absolute_url()).content.decode()
    assert transition_url(case, "reopen") not in html
    assert "can no longer be reopened" in html
    response = agent_client.post(
        transition_url(case, "reopen"), {"expected_state": "resolved", "reason": "Again"}, **HTMX
    )
    assert response.status_code == 409
    assert "new related case" in response.content.decode()
