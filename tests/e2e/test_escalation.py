"""In a real browser, two users: an agent escalates, a supervisor takes over and resolves."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from cases.models import CaseEvent, CaseState, Team
from cpm.roles import Role
from tests.conftest import user_with_role
from tests.e2e.conftest import PASSWORD
from tests.factories import CaseFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in_on(page: Page, base: str, username: str, role: Role):
    user = user_with_role(username, role)
    user.set_password(PASSWORD)
    user.save()
    page.goto(f"{base}/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/")
    return user


def test_agent_escalates_and_supervisor_takes_over_and_resolves(
    live_server, page: Page, browser: Browser
) -> None:
    base = live_server.url
    kim = log_in_on(page, base, "kim", Role.AGENT)
    team = Team.objects.create(name="Billing")
    team.members.add(kim)
    case = CaseFactory(state=CaseState.NEW, subject="Kulanz gewünscht", team=team)

    # The agent takes the case with "g n", opens it and escalates with a reason.
    page.reload()
    page.keyboard.press("g")
    page.keyboard.press("n")
    page.wait_for_url(f"{base}{case.get_absolute_url()}")
    page.get_by_role("button", name="Open", exact=True).click()
    state = page.get_by_test_id("case-state")
    expect(state).to_have_text("Open")
    page.get_by_text("Escalate", exact=True).click()
    page.get_by_label("Why does a supervisor need to step in?").fill("Goodwill over 100 EUR")
    page.get_by_role("button", name="Escalate now").click()
    expect(state).to_have_text("Escalated")
    expect(page.locator(f"#case-{case.pk}-history")).to_contain_text("Goodwill over 100 EUR")

    # The supervisor, in a browser of their own, finds it in the inbox with the reason.
    other = browser.new_context()
    boss = other.new_page()
    log_in_on(boss, base, "sam", Role.SUPERVISOR)
    boss.get_by_role("link", name="Escalations").click()
    row = boss.get_by_role("row").filter(has_text=case.reference)
    expect(row).to_contain_text("Goodwill over 100 EUR")
    row.get_by_role("link", name=case.reference).click()
    boss.get_by_role("button", name="Take over").click()
    expect(boss.locator(".case-header")).to_contain_text("sam")
    boss.get_by_text("Resolve", exact=True).click()
    boss.get_by_label("How was it resolved?").fill("Credit of 120 EUR granted.")
    boss.get_by_role("button", name="Resolve now").click()
    expect(boss.get_by_test_id("case-state")).to_have_text("Resolved")
    other.close()

    steps = list(
        CaseEvent.objects.filter(case=case, kind="transition")
        .order_by("at", "id")
        .values_list("transition", "by__username")
    )
    assert steps == [
        ("open", "kim"),
        ("escalate", "kim"),
        ("take_over", "sam"),
        ("resolve", "sam"),
    ]
