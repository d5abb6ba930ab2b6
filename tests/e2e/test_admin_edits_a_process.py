"""In a real browser: an admin edits a work instruction in a draft and publishes it."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from cpm.roles import Role
from guidance.models import ProcessVersion, VersionStatus
from guidance.selectors import published_version, version_spec
from guidance.services import process_import

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COMPLAINT = Path(__file__).resolve().parents[2] / "guidance" / "processes" / "complaint.yaml"


def test_admin_edits_a_work_instruction_with_live_preview_and_publishes(
    live_server, page: Page, log_in
) -> None:
    first = process_import(text=COMPLAINT.read_text(), by=None, publish=True)
    log_in("alex", Role.ADMIN)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Processes").click()
    page.locator("tr[data-process=complaint]").get_by_role("button", name="New draft").click()
    expect(page.get_by_test_id("version-status")).to_have_text("Draft")
    expect(page.get_by_test_id("process-graph").locator("[data-step=goodwill]")).to_be_visible()

    page.evaluate("window.__sameDocument = true")
    page.locator("[data-step=goodwill] > a").click()  # htmx loads the step's editor
    instruction = page.get_by_label("Work instruction (English)")
    expect(page.locator("#id_step-key")).to_have_value("goodwill")
    # Typed once htmx has settled the editor in: before that its key handler is not there
    # yet, and a single key stroke would go unheard (a person is never that fast).
    expect(page.locator(".htmx-added, .htmx-settling")).to_have_count(0)
    instruction.fill("You may grant goodwill up to **60 EUR** yourself.")
    instruction.press("End")  # a key stroke: the preview follows the typing
    expect(page.locator("#step-instruction_en-preview strong")).to_have_text("60 EUR")

    condition = page.locator("#id_actions-0-condition")
    condition.fill("answers.goodwil_amount > 60")
    condition.press("End")
    expect(page.locator("#id_actions-0-condition-check")).to_contain_text(
        "Unknown name “answers.goodwil_amount”"
    )
    condition.fill("answers.goodwill_amount > 60")
    condition.press("End")
    expect(page.locator("#id_actions-0-condition-check")).to_have_text("ok")

    page.get_by_role("button", name="Save step").click()
    expect(page.get_by_role("status").filter(has_text="Saved in the draft.")).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True  # htmx swapped, no reload

    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_test_id("version-status")).to_have_text("Published")
    expect(page.get_by_text("Version 2 is published.")).to_be_visible()
    page.locator("[data-step=goodwill] > a").click()
    expect(page.locator("#instruction-en strong")).to_have_text("60 EUR")

    first.refresh_from_db()
    assert first.status == VersionStatus.RETIRED
    assert version_spec(first).step("goodwill").instruction_en.startswith("You may grant")
    current = published_version(process_key="complaint")
    assert current == ProcessVersion.objects.get(number=2)
    goodwill = version_spec(current).step("goodwill")
    assert goodwill.instruction_en == "You may grant goodwill up to **60 EUR** yourself."
    assert goodwill.actions[0].condition == "answers.goodwill_amount > 60"
