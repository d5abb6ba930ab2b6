"""In a real browser: an agent logs in, opens a case, fires transitions, sees the new state."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from cases.models import CaseEvent, CaseState
from cpm.roles import Role
from tests.factories import CaseFactory, InteractionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_agent_opens_and_resolves_a_case_without_a_reload(live_server, page: Page, log_in) -> None:
    case = CaseFactory(state=CaseState.NEW, subject="Rechnung falsch")
    InteractionFactory(customer=case.customer, subject="Rechnung zu hoch", body="<b>59,98 €</b>")
    log_in("kim", Role.AGENT)

    page.get_by_role("link", name=case.reference).click()
    expect(page.get_by_role("heading", name="Rechnung falsch")).to_be_visible()
    expect(page.locator(".timeline .entry-subject")).to_have_text("Rechnung zu hoch")
    expect(page.locator(".timeline .entry-body")).to_have_text("<b>59,98 €</b>")  # shown as text

    page.evaluate("window.__sameDocument = true")
    page.get_by_role("button", name="Open").click()
    state = page.get_by_test_id("case-state")
    expect(state).to_have_text("Open")

    page.get_by_text("Resolve", exact=True).click()
    page.get_by_label("How was it resolved?").fill("Invoice corrected, credit note sent.")
    page.get_by_role("button", name="Resolve now").click()
    expect(state).to_have_text("Resolved")
    expect(page.locator(".case-header")).to_contain_text("Invoice corrected")
    assert page.evaluate("window.__sameDocument") is True  # htmx swapped, no reload
    assert CaseEvent.objects.filter(case=case, transition="resolve").count() == 1

    # Agents may not close: the button is not offered.
    expect(page.get_by_role("button", name="Close")).to_have_count(0)


def test_stale_screen_shows_a_conflict_and_keeps_the_text(live_server, page: Page, log_in) -> None:
    case = CaseFactory(state=CaseState.OPEN)
    log_in("kim", Role.AGENT)
    page.goto(f"{live_server.url}{case.get_absolute_url()}")
    page.get_by_text("Resolve", exact=True).click()
    page.get_by_label("How was it resolved?").fill("Refund of 12 EUR")

    from cases.services import TransitionInput, case_transition
    from tests.conftest import user_with_role

    other = user_with_role("lena", Role.SUPERVISOR)
    case_transition(case=case, name="resolve", by=other, data=TransitionInput(resolution="Done"))

    page.get_by_role("button", name="Resolve now").click()
    expect(page.get_by_role("alert")).to_contain_text("Someone else changed this case")
    expect(page.get_by_test_id("case-state")).to_have_text("Resolved")
    expect(page.get_by_label(re.compile("What you typed"))).to_have_value("Refund of 12 EUR")


def test_supervisor_closes_and_switches_to_german(live_server, page: Page, log_in) -> None:
    case = CaseFactory(state=CaseState.RESOLVED)
    log_in("sam", Role.SUPERVISOR)
    page.goto(f"{live_server.url}{case.get_absolute_url()}")
    page.get_by_role("button", name="Close").click()
    expect(page.get_by_test_id("case-state")).to_have_text("Closed")
    page.get_by_role("button", name="DE").click()
    expect(page.get_by_test_id("case-state")).to_have_text("Abgeschlossen")
    expect(page.locator("html")).to_have_attribute("lang", "de")


def test_slash_focuses_the_search_and_a_reference_jumps_to_the_case(
    live_server, page: Page, log_in
) -> None:
    case = CaseFactory(state=CaseState.NEW)
    log_in("kim", Role.AGENT)
    page.keyboard.press("/")
    expect(page.locator("#global-search")).to_be_focused()
    page.keyboard.type(case.reference.lower())
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("case-state")).to_have_text("New")
