"""In a real browser: a supervisor merges a duplicate case into another and undoes it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from cases.models import Case, CaseState
from cpm.roles import Role
from customers.models import Interaction
from tests.factories import CaseFactory, InteractionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_supervisor_merges_a_duplicate_then_undoes_it(live_server, page: Page, log_in) -> None:
    target = CaseFactory(state=CaseState.OPEN, subject="Rechnung zu hoch")
    duplicate = CaseFactory(customer=target.customer, state=CaseState.NEW, subject="Rechnung")
    InteractionFactory(customer=target.customer, case_reference=duplicate.reference)
    log_in("sam", Role.SUPERVISOR)

    page.goto(f"{live_server.url}{duplicate.get_absolute_url()}")
    panel = page.locator(f"#case-{duplicate.pk}-merge")
    panel.get_by_text("Merge into another case").click()
    panel.get_by_label("Merge into case").fill("C-1999-000001")
    panel.get_by_label("This case is a duplicate").check()
    panel.get_by_role("button", name="Merge now").click()
    expect(panel.get_by_role("alert")).to_contain_text("There is no case C-1999-000001")
    expect(panel.get_by_label("Merge into case")).to_have_value("C-1999-000001")

    panel.get_by_label("Merge into case").fill(target.reference)
    panel.get_by_label("This case is a duplicate").check()
    panel.get_by_label("Merge into case").press("Enter")  # the keyboard submits the form
    expect(page.get_by_test_id("merged-into")).to_contain_text(f"Merged into {target.reference}")
    expect(page.get_by_test_id("case-state")).to_have_text("Closed")
    assert Interaction.objects.get().case_reference == target.reference

    page.get_by_test_id("merged-into").get_by_role("link", name=target.reference).click()
    expect(page.get_by_test_id("merged-here")).to_contain_text(
        f"{duplicate.reference} was merged into this case."
    )
    page.go_back()
    page.get_by_role("button", name="Undo merge").click()
    expect(page.get_by_test_id("case-state")).to_have_text("New")
    expect(page.get_by_test_id("merged-into")).to_have_count(0)
    assert Case.objects.get(pk=duplicate.pk).merged_into is None
    assert Interaction.objects.get().case_reference == duplicate.reference
