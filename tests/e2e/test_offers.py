"""In a real browser: the agent offers direct debit, the customer accepts, the IBAN is captured."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from cpm.roles import Role
from customers.models import Holding, PaymentMethod
from guidance.services import process_import
from tests.factories import HoldingFactory, OfferFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PROCESSES = Path(__file__).resolve().parents[2] / "guidance" / "processes"
REASON = "pays by bank transfer; direct debit saves 1.50 EUR a month per invoice"


def test_agent_switches_a_customer_to_direct_debit_from_the_offers_panel(
    live_server, page: Page, log_in
) -> None:
    text = (PROCESSES / "direct-debit.yaml").read_text()
    process_import(text=text, by=None, publish=True)
    OfferFactory(
        key="direct-debit",
        name_en="Switch to direct debit",
        benefit_en=REASON,
        rule='holdings.exists(h, h.payment_method == "bank_transfer")',
        process_key="direct-debit",
        value_weight=3,
    )
    holding = HoldingFactory(payment_method=PaymentMethod.BANK_TRANSFER)
    customer = holding.customer
    log_in("kim", Role.AGENT)
    page.goto(f"{live_server.url}{customer.get_absolute_url()}")

    action = page.get_by_test_id("offer-direct-debit")
    expect(action).to_contain_text("Switch to direct debit")
    expect(action.locator(".offer-reason")).to_contain_text(REASON)
    action.get_by_role("button", name="Accepted").click()

    # A case is opened for it, with the direct-debit process at its first step.
    step = page.get_by_test_id("guided-step")
    expect(step).to_have_text("Capture the direct-debit mandate")
    page.get_by_label("Customer agrees to the mandate").select_option("yes")
    page.get_by_label("IBAN").fill("DE89 3704 0044 0532 0130 00")
    page.locator("[data-shortcut=next]").click()
    expect(step).to_have_text("Direct debit set up")
    holding = Holding.objects.get(pk=holding.pk)
    assert holding.payment_method == PaymentMethod.DIRECT_DEBIT
    assert holding.iban == "DE89370400440532013000"

    # Neither the case screen nor the cockpit offers it again.
    expect(page.locator(f"#customer-{customer.pk}-offers")).to_contain_text("Nothing to offer")
    page.goto(f"{live_server.url}{customer.get_absolute_url()}")
    expect(page.locator(f"#customer-{customer.pk}-offers")).to_contain_text("Nothing to offer")
    expect(page.get_by_test_id("offer-direct-debit")).to_have_count(0)
