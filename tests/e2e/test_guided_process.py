"""In a real browser: guided processes beside the customer's history."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from cases.models import CaseState
from cpm.roles import Role
from guidance.services import process_import
from tests.factories import CaseFactory, InteractionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PROCESSES = Path(__file__).resolve().parents[2] / "guidance" / "processes"


def publish(key: str) -> None:
    process_import(text=(PROCESSES / f"{key}.yaml").read_text(), by=None, publish=True)


def start(page: Page, name: str) -> None:
    page.get_by_label("Process", exact=True).select_option(label=name)
    page.get_by_role("button", name="Start").click()


def test_agent_walks_a_change_of_address_to_resolved(live_server, page: Page, log_in) -> None:
    publish("change-of-address")
    case = CaseFactory(state=CaseState.NEW, subject="Umzug")
    InteractionFactory(customer=case.customer, subject="Neue Adresse ab Dezember")
    log_in("kim", Role.AGENT)
    page.goto(f"{live_server.url}{case.get_absolute_url()}")
    expect(page.locator(".timeline .entry-subject")).to_have_text("Neue Adresse ab Dezember")

    start(page, "Change of address")
    step = page.get_by_test_id("guided-step")
    expect(step).to_have_text("Identify the customer")
    expect(page.get_by_test_id("case-state")).to_have_text("Open")  # refreshed by itself
    expect(page.locator(".instruction strong").first).to_have_text("date of birth")

    page.get_by_label("Identity confirmed").select_option("yes")
    page.keyboard.press("Alt+ArrowRight")
    expect(step).to_have_text("Capture the new address")
    page.locator("[data-shortcut=next]").click()  # nothing filled in: the browser refuses
    expect(step).to_have_text("Capture the new address")
    page.get_by_label("Street and number").fill("Hauptstr. 5")
    page.get_by_label("Postal code").fill("10115")
    page.get_by_label("City").fill("Berlin")
    page.get_by_label("Moving date").fill("2026-12-01")
    page.get_by_label("City").press("Enter")
    expect(step).to_have_text("Save and confirm the address")
    expect(page.get_by_test_id("guided-progress")).to_have_text("3 of 4")
    page.locator("[data-shortcut=next]").click()
    expect(step).to_have_text("Done")
    page.locator("[data-shortcut=next]").click()
    expect(page.get_by_text("The process is complete.")).to_be_visible()
    expect(page.get_by_test_id("case-state")).to_have_text("Resolved")
    # The new address is in the cockpit, and the change is on the timeline.
    page.get_by_role("link", name=case.customer.name).first.click()
    expect(page.locator("address")).to_contain_text("Hauptstr. 5")
    expect(page.locator(".timeline")).to_contain_text("Hauptstr. 5")


def test_complaint_stops_for_a_supervisor_then_the_agent_carries_on(
    live_server, browser, page: Page, log_in
) -> None:
    publish("complaint")
    case = CaseFactory(state=CaseState.OPEN, subject="Techniker kam nicht")
    log_in("kim", Role.AGENT)
    page.goto(f"{live_server.url}{case.get_absolute_url()}")
    start(page, "Complaint")
    page.get_by_label("What is it about?").fill("The technician did not come.")
    page.get_by_label("Category").select_option("technician")
    page.locator("[data-shortcut=next]").click()
    page.get_by_label("Goodwill amount (EUR)").fill("80")
    page.locator("[data-shortcut=next]").click()
    expect(page.get_by_role("status").filter(has_text="Waiting for a supervisor")).to_be_visible()

    supervisor = browser.new_context().new_page()
    supervisor.goto(f"{live_server.url}/login/")
    from tests.conftest import user_with_role

    boss = user_with_role("sam", Role.SUPERVISOR)
    boss.set_password("pw-e2e-secret")
    boss.save()
    supervisor.get_by_label("User name").fill("sam")
    supervisor.get_by_label("Password").fill("pw-e2e-secret")
    supervisor.get_by_role("button", name="Log in").click()
    supervisor.get_by_role("link", name="Decisions").click()
    row = supervisor.locator("tr", has_text=case.reference)
    expect(row).to_contain_text("Goodwill above 50 EUR")
    row.get_by_placeholder("Instruction for the agent").fill("Loyal customer, approved.")
    row.get_by_role("button", name="Approve").click()
    expect(supervisor.get_by_text("Decision recorded")).to_be_visible()

    page.reload()
    expect(page.get_by_test_id("guided-step")).to_have_text("Close the complaint")
    expect(page.locator(".guided .banner")).to_contain_text("Loyal customer, approved.")
    page.locator("[data-shortcut=next]").click()
    expect(page.get_by_test_id("case-state")).to_have_text("Resolved")
