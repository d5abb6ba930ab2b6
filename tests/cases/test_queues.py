"""Teams, queues, get next case, reassign and transfer."""

from __future__ import annotations

import html
import re
import threading
from datetime import timedelta

import pytest
from django.db import close_old_connections
from django.urls import reverse
from django.utils import timezone

from cases.models import Case, CaseEvent, CaseState, CaseType, Priority, Team
from cases.selectors import QUEUE_PAGE_SIZE, team_queue, team_queue_page
from cases.services import CaseActionError, case_assign, case_create, case_get_next
from cpm.roles import Role
from tests.conftest import user_with_role
from tests.factories import CaseFactory, CustomerFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


def team_with(*users, name: str = "Billing") -> Team:
    team = Team.objects.create(name=name)
    team.members.add(*users)
    return team


def aged(minutes: int) -> object:
    return timezone.now() - timedelta(minutes=minutes)


@pytest.mark.django_db
def test_case_type_gives_a_new_case_its_team_and_priority(agent) -> None:
    team = team_with(agent)
    kind = CaseType.objects.create(
        name_de="Störung", name_en="Outage", default_team=team, default_priority=Priority.URGENT
    )
    case = case_create(customer=CustomerFactory(), subject="Kein Netz", by=agent, case_type=kind)
    assert (case.team, case.priority) == (team, Priority.URGENT)


@pytest.mark.django_db
def test_queue_is_ordered_by_priority_then_age_and_skips_assigned_and_other_teams(agent) -> None:
    team = team_with(agent)
    other = Team.objects.create(name="Other")
    old_normal = CaseFactory(team=team, priority=Priority.NORMAL, created_at=aged(300))
    new_urgent = CaseFactory(team=team, priority=Priority.URGENT, created_at=aged(5))
    old_urgent = CaseFactory(team=team, priority=Priority.URGENT, created_at=aged(60))
    CaseFactory(team=team, assignee=agent)
    CaseFactory(team=other, priority=Priority.URGENT)
    CaseFactory(team=team, state=CaseState.ESCALATED)
    assert team_queue(teams=[team]) == [old_urgent, new_urgent, old_normal]


@pytest.mark.django_db
def test_the_sla_that_runs_out_first_comes_before_priority(agent) -> None:
    team = team_with(agent)
    urgent_no_sla = CaseFactory(team=team, priority=Priority.URGENT, created_at=aged(5))
    normal_due_soon = CaseFactory(
        team=team, priority=Priority.NORMAL, resolution_due=timezone.now() + timedelta(minutes=20)
    )
    low_due_later = CaseFactory(
        team=team, priority=Priority.LOW, resolution_due=timezone.now() + timedelta(hours=5)
    )
    assert team_queue(teams=[team]) == [normal_due_soon, low_due_later, urgent_no_sla]
    assert case_get_next(user=agent) == normal_due_soon


@pytest.mark.django_db
def test_get_next_assigns_the_most_urgent_case_and_records_it(agent) -> None:
    team = team_with(agent)
    CaseFactory(team=team, priority=Priority.LOW, created_at=aged(500))
    urgent = CaseFactory(team=team, priority=Priority.HIGH, created_at=aged(10))
    case = case_get_next(user=agent)
    assert case == urgent and case.assignee == agent
    event = CaseEvent.objects.get(case=urgent)
    assert (event.kind, event.assignee, event.by) == ("assigned", agent, agent)


@pytest.mark.django_db
def test_get_next_with_an_empty_queue_gives_none_and_a_message(agent, agent_client) -> None:
    team_with(agent)
    assert case_get_next(user=agent) is None
    response = agent_client.post(reverse("cases:case-get-next"), follow=True)
    assert "No case is waiting" in response.content.decode()


@pytest.mark.django_db
def test_get_next_button_takes_the_agent_to_the_case(agent, agent_client) -> None:
    case = CaseFactory(team=team_with(agent))
    response = agent_client.post(reverse("cases:case-get-next"))
    assert response.status_code == 302 and response["Location"] == case.get_absolute_url()


@pytest.mark.django_db
def test_home_shows_the_team_queue_and_get_next_button(agent, agent_client) -> None:
    waiting = CaseFactory(team=team_with(agent), subject="Waiting in the queue")
    html = agent_client.get(reverse("home")).content.decode()
    assert waiting.reference in html
    assert 'id="get-next-case"' in html
    assert "Team queue" in html


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_agents_pressing_at_once_never_get_the_same_case() -> None:
    agents = [user_with_role(f"agent{n}", Role.AGENT) for n in range(8)]
    team = team_with(*agents)
    for minutes in range(12):
        CaseFactory(team=team, created_at=aged(minutes))
    start = threading.Barrier(len(agents))
    got: list[int | None] = []
    errors: list[BaseException] = []

    def press(user) -> None:
        try:
            start.wait()
            for _ in range(2):
                case = case_get_next(user=user)
                got.append(case.pk if case else None)
        except BaseException as error:  # collected and asserted below
            errors.append(error)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=press, args=(user,)) for user in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    handed_out = [pk for pk in got if pk is not None]
    assert len(handed_out) == len(set(handed_out)) == 12
    assert Case.objects.filter(assignee__isnull=True).count() == 0
    assert CaseEvent.objects.filter(kind="assigned").count() == 12


@pytest.mark.django_db
def test_transfer_to_another_team_needs_a_note(agent) -> None:
    team = team_with(agent)
    other = Team.objects.create(name="Technical support")
    case = CaseFactory(team=team, assignee=agent, state=CaseState.OPEN)
    with pytest.raises(CaseActionError, match="another team"):
        case_assign(case=case, by=agent, team=other, assignee=None, note=" ")
    case_assign(case=case, by=agent, team=other, assignee=None, note="Router defect")
    case.refresh_from_db()
    assert (case.team, case.assignee) == (other, None)
    event = CaseEvent.objects.get(case=case)
    assert (event.kind, event.team, event.reason) == ("assigned", other, "Router defect")


@pytest.mark.django_db
def test_reassign_only_to_a_member_of_the_team(agent, supervisor) -> None:
    team = team_with(agent)
    case = CaseFactory(team=team, state=CaseState.OPEN)
    with pytest.raises(CaseActionError, match="member"):
        case_assign(case=case, by=agent, team=None, assignee=supervisor)
    case_assign(case=case, by=agent, team=None, assignee=agent)
    case.refresh_from_db()
    assert case.assignee == agent


@pytest.mark.django_db
def test_htmx_transfer_without_note_is_a_400_and_changes_nothing(agent, agent_client) -> None:
    team = team_with(agent)
    other = Team.objects.create(name="Contracts")
    case = CaseFactory(team=team, state=CaseState.OPEN)
    url = reverse("cases:case-assign", args=[case.reference])
    response = agent_client.post(url, {"team": other.pk, "note": ""}, **HTMX)
    assert response.status_code == 400
    assert "another team" in response.content.decode()
    case.refresh_from_db()
    assert case.team == team and not CaseEvent.objects.exists()
    response = agent_client.post(url, {"team": other.pk, "note": "Contract matter"}, **HTMX)
    assert response.status_code == 200
    assert "case:updated" in response.headers["HX-Trigger"]
    case.refresh_from_db()
    assert case.team == other


@pytest.mark.django_db
def test_closed_case_cannot_be_reassigned(agent) -> None:
    case = CaseFactory(team=team_with(agent), state=CaseState.CLOSED)
    with pytest.raises(CaseActionError, match="cannot be reassigned"):
        case_assign(case=case, by=agent, team=None, assignee=agent)


@pytest.mark.django_db
def test_bad_team_id_is_a_400(agent, agent_client) -> None:
    case = CaseFactory(team=team_with(agent), state=CaseState.OPEN)
    url = reverse("cases:case-assign", args=[case.reference])
    assert agent_client.post(url, {"team": "999999"}, **HTMX).status_code == 400


@pytest.mark.django_db
@pytest.mark.parametrize("cases", [3, 60])
def test_home_query_count_does_not_grow_with_the_queue(
    agent, agent_client, django_assert_max_num_queries, cases: int
) -> None:
    team = team_with(agent)
    CaseFactory.create_batch(cases, team=team)
    CaseFactory.create_batch(cases, team=team, assignee=agent, state=CaseState.OPEN)
    with django_assert_max_num_queries(10):
        agent_client.get(reverse("home"))


@pytest.mark.django_db
@pytest.mark.parametrize("cases", [3, 60])
def test_escalation_inbox_query_count_does_not_grow(
    agent, supervisor_client, django_assert_max_num_queries, cases: int
) -> None:
    CaseFactory.create_batch(
        cases, state=CaseState.ESCALATED, escalated_by=agent, escalated_at=timezone.now()
    )
    with django_assert_max_num_queries(10):
        supervisor_client.get(reverse("cases:escalation-inbox"))


@pytest.mark.django_db
def test_only_supervisors_reassign_an_escalated_case(agent, supervisor) -> None:
    team = team_with(agent, supervisor)
    case = CaseFactory(team=team, state=CaseState.ESCALATED, assignee=agent)
    with pytest.raises(CaseActionError, match="cannot be reassigned"):
        case_assign(case=case, by=agent, team=None, assignee=supervisor)
    case_assign(case=case, by=supervisor, team=None, assignee=supervisor, note="I take it")
    case.refresh_from_db()
    assert (case.state, case.assignee) == (CaseState.ESCALATED, supervisor)


def queue_mix(team: Team, count: int) -> list[Case]:
    """Cases with every ordering key in play: due or not, equal dues, priorities, ages."""
    now = timezone.now()
    made = []
    for n in range(count):
        due = None if n % 4 == 0 else now + timedelta(hours=n % 5)
        made.append(
            CaseFactory(
                team=team,
                state=CaseState.OPEN,
                resolution_due=due,
                priority=1 + n % 3,
                created_at=now - timedelta(minutes=n % 7),
            )
        )
    return made


@pytest.mark.django_db
def test_the_queue_pages_by_keyset_and_every_case_shows_exactly_once(agent) -> None:
    team = team_with(agent)
    queue_mix(team, 61)
    everything = [case.pk for case in team_queue(teams=[team], limit=1000)]
    seen, cursor = [], ""
    while True:
        page = team_queue_page(teams=[team], cursor=cursor, size=10)
        seen += [case.pk for case in page.cases]
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert len(everything) == 61
    assert seen == everything


@pytest.mark.django_db
def test_home_shows_the_first_page_and_loads_more_rows_with_htmx(agent, agent_client) -> None:
    team = team_with(agent)
    queue_mix(team, QUEUE_PAGE_SIZE + 5)
    home = agent_client.get(reverse("home")).content.decode()
    assert home.count('class="mono"><a href="/cases/') == QUEUE_PAGE_SIZE
    more = re.search(r'hx-get="([^"]+)"[^>]*>More cases', home).group(1)
    rows = agent_client.get(html.unescape(more), **HTMX)
    assert rows.status_code == 200
    assert rows.content.decode().count("<tr>") == 5
    assert "More cases" not in rows.content.decode()
    page = agent_client.get(html.unescape(more))  # without htmx: a whole page
    assert "<html" in page.content.decode() and page.content.decode().count("<tr>") == 6


@pytest.mark.django_db
def test_a_forged_queue_position_is_refused(agent_client) -> None:
    response = agent_client.get(reverse("cases:team-queue"), {"cursor": "x|y|z|w"})
    assert response.status_code == 400
    assert "not valid" in response.content.decode()
