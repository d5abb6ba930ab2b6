"""The merge panel on the case screen: merge, refusals inline, the banners, undo."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cases import guided
from cases.models import Case, CaseMerge, CaseState
from cases.services import case_merge
from customers.models import Interaction
from tests.cases.test_guided import publish
from tests.factories import CaseFactory, InteractionFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


def pair() -> tuple[Case, Case]:
    target = CaseFactory(state=CaseState.OPEN, subject="Rechnung zu hoch")
    duplicate = CaseFactory(customer=target.customer, state=CaseState.NEW, subject="Rechnung")
    return duplicate, target


def merge_url(case: Case) -> str:
    return reverse("cases:case-merge", args=[case.reference])


@pytest.mark.django_db
def test_the_case_page_offers_the_merge_form_with_labels(agent_client) -> None:
    duplicate, _target = pair()
    html = agent_client.get(duplicate.get_absolute_url()).content.decode()
    assert f'id="case-{duplicate.pk}-merge"' in html
    assert "Merge into another case" in html
    assert f'<label for="case-{duplicate.pk}-merge-ref">' in html
    assert 'name="confirm"' in html and "required" in html


@pytest.mark.django_db
def test_merge_over_htmx_reloads_the_page_and_shows_both_banners(agent_client) -> None:
    duplicate, target = pair()
    InteractionFactory(customer=duplicate.customer, case_reference=duplicate.reference)
    data = {"reference": target.reference, "confirm": "on", "expected_state": "new"}
    response = agent_client.post(merge_url(duplicate), data, **HTMX)
    assert response.status_code == 200
    assert response.headers["HX-Refresh"] == "true"
    assert Interaction.objects.get().case_reference == target.reference
    html = agent_client.get(duplicate.get_absolute_url()).content.decode()
    assert 'data-testid="merged-into"' in html and "Merged into <a" in html
    assert target.get_absolute_url() in html
    assert reverse("cases:case-unmerge", args=[duplicate.reference]) not in html  # agents: no undo
    assert "Merge into another case" not in html
    html = agent_client.get(target.get_absolute_url()).content.decode()
    assert f"{duplicate.reference}</a> was merged into this case." in html
    assert "duplicate" in html  # the link's kind


@pytest.mark.django_db
def test_merge_without_htmx_redirects_to_the_case(agent_client) -> None:
    duplicate, target = pair()
    data = {"reference": target.reference, "confirm": "on"}
    response = agent_client.post(merge_url(duplicate), data)
    assert response.status_code == 302 and response["Location"] == duplicate.get_absolute_url()
    assert Case.objects.get(pk=duplicate.pk).state == CaseState.CLOSED


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"reference": "", "confirm": "on"}, 400, "Enter the reference"),
        ({"reference": "TARGET"}, 400, "Tick the box to confirm the merge."),
        ({"reference": "C-1999-000001", "confirm": "on"}, 400, "There is no case C-1999-000001"),
        ({"reference": "SELF", "confirm": "on"}, 400, "into itself"),
        ({"reference": "TARGET", "confirm": "on", "expected_state": "open"}, 409, "It is now New"),
    ],
)
def test_refused_merge_is_a_4xx_panel_that_keeps_what_was_typed(
    agent_client, data: dict[str, str], status: int, message: str
) -> None:
    duplicate, target = pair()
    names = {"TARGET": target.reference, "SELF": duplicate.reference}
    data = {**data, "reference": names.get(data["reference"], data["reference"])}
    response = agent_client.post(merge_url(duplicate), data, **HTMX)
    html = response.content.decode()
    assert response.status_code == status
    assert html.startswith("<section") or f'id="case-{duplicate.pk}-merge"' in html
    assert message in html and 'role="alert"' in html
    if data["reference"]:
        assert f'value="{data["reference"]}"' in html
    assert not CaseMerge.objects.exists()


@pytest.mark.django_db
def test_another_customers_case_is_refused_with_the_reason(agent_client) -> None:
    duplicate = CaseFactory(state=CaseState.OPEN)
    other = CaseFactory(state=CaseState.OPEN)
    data = {"reference": other.reference, "confirm": "on"}
    response = agent_client.post(merge_url(duplicate), data, **HTMX)
    assert response.status_code == 400
    assert "only cases of the same customer can be merged" in response.content.decode()


@pytest.mark.django_db
def test_supervisor_undoes_the_merge_from_the_banner(agent, supervisor_client) -> None:
    duplicate, target = pair()
    case_merge(case=duplicate, into=target, by=agent)
    undo = reverse("cases:case-unmerge", args=[duplicate.reference])
    assert undo in supervisor_client.get(duplicate.get_absolute_url()).content.decode()
    response = supervisor_client.post(undo, **HTMX)
    assert response.status_code == 200 and response.headers["HX-Refresh"] == "true"
    duplicate.refresh_from_db()
    assert (duplicate.state, duplicate.merged_into) == (CaseState.NEW, None)
    again = supervisor_client.post(undo, **HTMX)
    assert again.status_code == 409 and "not merged" in again.content.decode()


@pytest.mark.django_db
def test_supervisor_undoes_a_merge_from_the_kept_case(agent, supervisor_client) -> None:
    duplicate, target = pair()
    case_merge(case=duplicate, into=target, by=agent)
    undo = reverse("cases:case-unmerge", args=[duplicate.reference])
    html = supervisor_client.get(target.get_absolute_url()).content.decode()
    assert undo in html and f'name="from" value="{target.reference}"' in html
    assert f'hx-target="#case-{target.pk}-merge"' in html
    response = supervisor_client.post(undo, {"from": target.reference})
    assert response.status_code == 302 and response.url == target.get_absolute_url()
    duplicate.refresh_from_db()
    assert (duplicate.state, duplicate.merged_into) == (CaseState.NEW, None)
    again = supervisor_client.post(undo, {"from": target.reference}, **HTMX)
    assert again.status_code == 409
    assert f'id="case-{target.pk}-merge"' in again.content.decode()  # the kept case's panel


@pytest.mark.django_db
def test_agents_see_no_undo_on_the_kept_case(agent, agent_client) -> None:
    duplicate, target = pair()
    case_merge(case=duplicate, into=target, by=agent)
    html = agent_client.get(target.get_absolute_url()).content.decode()
    assert 'data-testid="merged-here"' in html
    assert reverse("cases:case-unmerge", args=[duplicate.reference]) not in html


@pytest.mark.django_db
def test_agents_cannot_undo_a_merge(agent, agent_client) -> None:
    duplicate, target = pair()
    case_merge(case=duplicate, into=target, by=agent)
    response = agent_client.post(reverse("cases:case-unmerge", args=[duplicate.reference]))
    assert response.status_code == 403
    assert Case.objects.get(pk=duplicate.pk).merged_into == target


@pytest.mark.django_db
def test_a_merged_case_offers_no_follow_up(agent, agent_client) -> None:
    duplicate, target = pair()
    case_merge(case=duplicate, into=target, by=agent)
    html = agent_client.get(duplicate.get_absolute_url()).content.decode()
    assert "Open a follow-up case" not in html
    response = agent_client.post(reverse("cases:case-follow-up", args=[duplicate.reference]))
    assert response.status_code == 302
    assert not Case.objects.filter(subject="Rechnung").exclude(pk=duplicate.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("merged", [1, 20])
def test_case_page_query_count_does_not_grow_with_merged_cases(
    agent, agent_client, django_assert_max_num_queries, merged: int
) -> None:
    target = CaseFactory(state=CaseState.OPEN)
    for _ in range(merged):
        duplicate = CaseFactory(customer=target.customer, state=CaseState.OPEN)
        case_merge(case=duplicate, into=target, by=agent)
    # The same bound as the page without merges (test_case_views): 11 queries at most.
    with django_assert_max_num_queries(11):
        agent_client.get(target.get_absolute_url())
    with django_assert_max_num_queries(11):
        agent_client.get(duplicate.get_absolute_url())


@pytest.mark.django_db
def test_the_panel_endpoint_renders_the_same_fragment(agent, agent_client) -> None:
    duplicate, target = pair()
    case_merge(case=duplicate, into=target, by=agent)
    url = reverse("cases:case-merge-panel", args=[target.reference])
    html = agent_client.get(url, **HTMX).content.decode()
    assert html.startswith(f'<section id="case-{target.pk}-merge"')
    assert f"{duplicate.reference}</a> was merged into this case." in html


@pytest.mark.django_db
def test_merge_and_undo_are_no_generic_transition_buttons(agent, supervisor_client) -> None:
    duplicate, target = pair()
    html = supervisor_client.get(duplicate.get_absolute_url()).content.decode()
    assert "/transitions/merge/" not in html
    case_merge(case=duplicate, into=target, by=agent)
    html = supervisor_client.get(duplicate.get_absolute_url()).content.decode()
    assert "/transitions/unmerge/" not in html
    assert "No action is open to you in this state." in html


@pytest.mark.django_db
def test_the_duplicates_guided_panel_says_the_run_was_abandoned(agent, agent_client) -> None:
    duplicate, target = pair()
    guided.run_start(case=duplicate, version=publish("complaint"), by=agent)
    case_merge(case=duplicate, into=target, by=agent)
    html = agent_client.get(reverse("cases:case-guided", args=[duplicate.reference])).content
    assert b'data-testid="guided-abandoned"' in html
