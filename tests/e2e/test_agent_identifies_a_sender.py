"""In a real browser: an SMS from an unknown number is linked to the right customer."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from cases.intake import channel_key_create
from cases.models import Case
from cpm.roles import Role
from tests.e2e.conftest import inbound_post
from tests.factories import CustomerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def deliver_sms(url: str, key: str, number: str) -> dict:
    body = {"external_id": "sms-unknown-1", "from": number, "body": "Mein Internet geht nicht."}
    return inbound_post(url, key, "sms", body)


def test_agent_links_an_unknown_sender_to_the_customer_on_the_case_screen(
    live_server, page: Page, log_in
) -> None:
    anna = CustomerFactory(name="Anna Berger", number="K-424242")
    key = channel_key_create(channel="sms", name="sms gateway")[1]
    answer = deliver_sms(live_server.url, key, "0176 99887766")
    log_in("kim", Role.AGENT)
    page.goto(f"{live_server.url}/cases/{answer['case']}/")

    panel = page.locator("section", has_text="Who wrote this?")
    expect(panel).to_contain_text("0176 99887766")
    field = page.get_by_label("Link to customer: customer number, phone or e-mail")
    field.fill("K-999999")  # nobody: the panel says so and nothing changes
    field.press("Enter")
    expect(panel).to_contain_text("K-999999")
    field = page.get_by_label("Link to customer: customer number, phone or e-mail")
    field.fill("K-424242")
    field.press("Enter")

    header = page.locator(".case-header")
    expect(header).to_contain_text("Anna Berger")
    expect(page.get_by_text("Who wrote this?")).to_have_count(0)
    assert Case.objects.get(reference=answer["case"]).customer_id == anna.pk
