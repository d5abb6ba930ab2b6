"""In a real browser: an agent changes the customer's language and marketing consent in the
cockpit's header, sees both on the timeline without a reload, and a second agent who edited
the same customer meanwhile gets the conflict with the current values."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from cpm.roles import Role
from customers.models import CustomerChange, Language
from customers.services import customer_edit, text
from tests.factories import CustomerFactory, InteractionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_agent_edits_language_and_marketing_consent(live_server, page: Page, log_in) -> None:
    customer = CustomerFactory(name="Anna Müller", language=Language.GERMAN)
    InteractionFactory.create_batch(3, customer=customer)
    kim = log_in("kim", Role.AGENT)
    page.goto(f"{live_server.url}{customer.get_absolute_url()}")
    header = page.locator(f"#customer-{customer.pk}-header")
    expect(header).to_contain_text("marketing: no")
    # The master data is at the top of the data column, above the contact points.
    data_column = page.locator(".col-data > section")
    expect(data_column.first).to_have_id(f"customer-{customer.pk}-header")
    page.evaluate("window.__sameDocument = true")

    page.get_by_role("link", name="Edit customer data").click()
    page.get_by_label("Language").select_option("en")
    page.get_by_label("Consent to marketing").check()
    page.get_by_role("button", name="Save").click()

    expect(header).to_contain_text("English")
    expect(header).to_contain_text("marketing: yes")
    timeline = page.locator(".timeline .entry.kind-change")
    expect(timeline).to_have_count(2)
    expect(timeline.filter(has_text="consent to marketing")).to_contain_text("no → yes")
    expect(timeline.filter(has_text="language")).to_contain_text("German → English")
    assert page.evaluate("window.__sameDocument") is True  # swapped in place, no reload
    changes = CustomerChange.objects.filter(customer=customer)
    assert {(c.field, c.by_id) for c in changes} == {
        ("language", kim.pk),
        ("consent_marketing", kim.pk),
    }

    # Kim opens the form again; meanwhile a colleague renames the customer.
    page.get_by_role("link", name="Edit customer data").click()
    page.get_by_label("Name").fill("Anna Meier")
    customer.refresh_from_db()
    seen = {"name": text(customer.name)}
    customer_edit(customer=customer, by=None, changes={"name": "Anna Schmidt"}, seen=seen)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("Someone else changed this customer")
    expect(page.get_by_role("alert")).to_contain_text("Anna Schmidt")
    expect(page.get_by_label("Name")).to_have_value("Anna Meier")  # what Kim typed stays
    page.get_by_role("button", name="Save").click()  # Kim decides: her spelling
    expect(header.get_by_role("heading")).to_have_text("Anna Meier")
