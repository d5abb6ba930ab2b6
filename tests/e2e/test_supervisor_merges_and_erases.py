"""In a real browser: the billing panel loads on the cockpit; a supervisor merges a
duplicate, undoes the merge, and erases a customer's personal data."""

from __future__ import annotations

from datetime import date

import pytest
from playwright.sync_api import Page, expect

from cpm.roles import Role
from customers.models import ContactKind, Customer, PaymentMethod
from customers.services import contact_point_add
from tests.factories import CustomerFactory, HoldingFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_supervisor_merges_undoes_and_erases(live_server, page: Page, log_in) -> None:
    anna = CustomerFactory(name="Anna Müller", date_of_birth=date(1980, 5, 17))
    contact_point_add(customer=anna, kind=ContactKind.MOBILE, value="0151 11112222", by=None)
    HoldingFactory(customer=anna, contract_number="V-1", payment_method=PaymentMethod.INVOICE)
    dup = CustomerFactory(name="Anna Mueller", date_of_birth=date(1980, 5, 17))
    log_in("sam", Role.SUPERVISOR)

    page.goto(f"{live_server.url}{anna.get_absolute_url()}")
    expect(page.locator(f"#customer-{anna.pk}-billing")).to_contain_text("Open balance")
    page.get_by_role("link", name="Duplicates").click()
    page.get_by_role("button", name=f"Merge {dup.number} into this customer").click()
    expect(page.locator(".messages")).to_contain_text("has been merged")
    page.get_by_role("link", name="Duplicates").click()
    page.get_by_role("button", name="Undo merge").click()
    expect(page.locator(".messages")).to_contain_text("undone")
    dup.refresh_from_db()
    assert dup.merged_into is None

    page.goto(f"{live_server.url}{anna.get_absolute_url()}")
    page.get_by_role("link", name="Data protection").click()
    expect(page.locator("#export-contact_points")).to_be_visible()
    page.get_by_label("Type the customer number").fill(anna.number)
    page.get_by_role("button", name="Erase personal data").click()
    expect(page.locator('[data-flag="erased"]')).to_be_visible()
    assert Customer.objects.get(pk=anna.pk).name != "Anna Müller"
