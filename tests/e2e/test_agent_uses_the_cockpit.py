"""In a real browser: find a customer by a phone number typed with spaces, scroll the
timeline, change the e-mail address in place and see the change on the timeline."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from cpm.roles import Role
from customers.models import ContactKind, CustomerChange, Interaction, PaymentMethod
from customers.services import contact_point_add
from tests.factories import CustomerFactory, HoldingFactory, InteractionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_agent_finds_a_customer_by_phone_and_edits_the_email(
    live_server, page: Page, log_in
) -> None:
    customer = CustomerFactory(name="Anna Müller")
    contact_point_add(customer=customer, kind=ContactKind.MOBILE, value="015123456789", by=None)
    contact_point_add(customer=customer, kind=ContactKind.EMAIL, value="anna@alt.de", by=None)
    Interaction.objects.bulk_create(InteractionFactory.build_batch(60, customer=customer))
    HoldingFactory(customer=customer, contract_number="V-1", payment_method=PaymentMethod.INVOICE)
    log_in("kim", Role.AGENT)

    page.keyboard.press("/")
    page.keyboard.type("+49 151 2345 6789")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Anna Müller")).to_be_visible()
    assert page.url.endswith(customer.get_absolute_url())

    entries = page.locator(".timeline .entry")
    expect(entries).to_have_count(25)
    entries.last.scroll_into_view_if_needed()
    expect(entries).to_have_count(50)  # the next page came in as the agent scrolled

    page.evaluate("window.__sameDocument = true")
    page.get_by_role("link", name="Edit E-mail").click()
    page.get_by_label("Value").fill("anna@neu")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("not a valid e-mail address")
    page.get_by_label("Value").fill("Anna@Neu.de")
    page.get_by_role("button", name="Save").click()
    contacts = page.locator(f"#customer-{customer.pk}-contacts")
    expect(contacts).to_contain_text("Anna@Neu.de")
    first = page.locator(".timeline .entry").first
    expect(first).to_contain_text("anna@alt.de")
    expect(first).to_contain_text("Anna@Neu.de")

    # Switching a contract to bank transfer raises the derived flag in the header.
    header = page.locator(f"#customer-{customer.pk}-header")
    expect(header.locator('[data-flag="transfer"]')).to_have_count(0)
    page.get_by_role("link", name="Change payment method V-1").click()
    page.get_by_role("combobox", name="Payment method").select_option("bank_transfer")
    page.get_by_role("button", name="Save").click()
    expect(header.locator('[data-flag="transfer"]')).to_have_count(1)
    assert page.evaluate("window.__sameDocument") is True  # swapped in place, no reload
    assert CustomerChange.objects.filter(new="Anna@Neu.de").get().by.username == "kim"


def test_arrow_keys_and_enter_choose_a_search_result(live_server, page: Page, log_in) -> None:
    CustomerFactory(name="Anna Müller")
    bernd = CustomerFactory(name="Bernd Müller")
    log_in("kim", Role.AGENT)
    page.keyboard.press("/")
    page.keyboard.type("Müller")
    page.keyboard.press("Enter")
    expect(page.locator("[data-results] a")).to_have_count(2)
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Bernd Müller")).to_be_visible()
    assert page.url.endswith(bernd.get_absolute_url())
