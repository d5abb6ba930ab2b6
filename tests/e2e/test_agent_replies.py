"""In a real browser: an agent answers from a template, sees it queued, then sent."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from cases.models import CaseState, OutboundMessage, ReplyTemplate
from cases.outbox import outbound_deliver
from cpm.roles import Role
from customers.models import ContactKind, Language
from tests.factories import CaseFactory, ContactPointFactory, CustomerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_agent_sends_a_reply_from_a_template_and_sees_it_sent(
    live_server, page: Page, log_in
) -> None:
    customer = CustomerFactory(name="Kim <Lee>", language=Language.ENGLISH, consent_service=True)
    email = "kim@example.de"
    ContactPointFactory(customer=customer, kind=ContactKind.EMAIL, value=email, normalised=email)
    case = CaseFactory(customer=customer, state=CaseState.OPEN)
    ReplyTemplate.objects.create(
        name="Next step",
        subject_de="Ihr Vorgang {case_reference}",
        subject_en="Your case {case_reference}",
        body_de="Hallo {customer_name}, als Nächstes: {next_step}",
        body_en="Hello {customer_name}, next: {next_step}",
    )
    log_in("kim", Role.AGENT)
    page.goto(f"{live_server.url}{case.get_absolute_url()}")
    page.evaluate("window.__sameDocument = true")

    page.get_by_label("Template").select_option(label="Next step")
    page.get_by_label("Next step (for {next_step})").fill("a technician calls you")
    page.get_by_role("button", name="Use template").click()
    body = page.get_by_label("Text", exact=True)
    expect(body).to_have_value("Hello Kim <Lee>, next: a technician calls you")
    expect(page.get_by_label("Subject")).to_have_value(f"Your case {case.reference}")
    body.fill(body.input_value() + "\nToday, between 2 and 4 pm.")
    page.get_by_role("button", name="Send reply").click()

    expect(page.get_by_role("status")).to_contain_text("queued for sending")
    replies = page.locator(".outbound-message")
    expect(replies).to_have_count(1)
    expect(replies.locator(".delivery")).to_have_text("Queued")
    expect(replies.locator(".outbound-body")).to_contain_text("Today, between 2 and 4 pm.")
    expect(page.locator(".events")).to_contain_text("Reply to the customer")

    outbound_deliver(pk=OutboundMessage.objects.get().pk)  # what the worker does
    expect(replies.locator(".delivery")).to_have_text("Sent", timeout=15_000)  # the poll
    assert page.evaluate("window.__sameDocument") is True
    page.wait_for_load_state("networkidle")


def test_an_empty_reply_is_refused_inline(live_server, page: Page, log_in) -> None:
    customer = CustomerFactory(consent_service=True)
    ContactPointFactory(customer=customer)  # a mobile number: SMS
    case = CaseFactory(customer=customer, state=CaseState.OPEN)
    log_in("kim", Role.AGENT)
    page.goto(f"{live_server.url}{case.get_absolute_url()}")
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_role("alert")).to_contain_text("Write the reply first")
    assert not OutboundMessage.objects.exists()
    page.wait_for_load_state("networkidle")
