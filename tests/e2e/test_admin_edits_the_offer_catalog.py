"""In a real browser: an admin adds an offer in the catalog; a bad rule is named as it is
typed and on save, nothing is saved; fixed, the offer shows in a customer's panel, and the
customer's answer lands on the timeline."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from cpm.roles import Role
from guidance.models import Offer
from tests.factories import HoldingFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_creates_an_offer_that_reaches_the_customers_panel(
    live_server, page: Page, log_in
) -> None:
    holding = HoldingFactory(product="DSL 100")
    customer = holding.customer
    log_in("ada", Role.ADMIN)
    page.get_by_role("link", name="Offer catalog").click()
    page.get_by_role("link", name="New offer").click()

    page.get_by_label("Key").fill("router-upgrade")
    page.get_by_label("Kind").select_option("service")
    page.get_by_label("Name (German)").fill("Router-Tausch")
    page.get_by_label("Name (English)").fill("Router upgrade")
    page.get_by_label("Customer benefit (English)").fill("faster Wi-Fi at no cost")
    rule = page.get_by_label("Eligibility rule")
    rule.fill('holdings.exists(h, h.produkt == "DSL 100")')
    rule.press("End")  # a keyup, as when typing
    check = page.locator("#id_rule-check")
    expect(check).to_contain_text("Unknown name “h.produkt”")

    page.get_by_role("button", name="Save offer").click()
    expect(page.locator(".messages")).to_contain_text("Not saved.")
    expect(page.locator(".messages")).to_contain_text("h.produkt")
    assert not Offer.objects.exists()

    rule = page.get_by_label("Eligibility rule")
    rule.fill('holdings.exists(h, h.product == "DSL 100")')
    rule.press("End")
    expect(page.locator("#id_rule-check")).to_have_text("ok")
    page.get_by_role("button", name="Save offer").click()
    expect(page.locator(".messages")).to_contain_text("Offer “router-upgrade” saved.")
    expect(page.get_by_test_id("offer-catalog")).to_contain_text("Router upgrade")

    page.goto(f"{live_server.url}{customer.get_absolute_url()}")
    action = page.get_by_test_id("offer-router-upgrade")
    expect(action).to_contain_text("faster Wi-Fi at no cost")
    action.get_by_label("Declined because").select_option("price")
    action.get_by_role("button", name="Declined").click()
    timeline = page.locator(f"#customer-{customer.pk}-timeline")
    entry = timeline.locator("[data-event=offer_declined]")
    expect(entry).to_contain_text("Router upgrade")
    expect(entry).to_contain_text("Too expensive")
