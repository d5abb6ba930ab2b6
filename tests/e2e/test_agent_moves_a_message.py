"""In a real browser: an agent moves a message to another case and undoes it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from cases.models import CaseState, InboundMessage, InboundStatus
from cpm.roles import Role
from tests.factories import CaseFactory, InteractionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_agent_moves_a_message_and_undoes_it(live_server, page: Page, log_in) -> None:
    source = CaseFactory(state=CaseState.OPEN)
    target = CaseFactory(customer=source.customer, state=CaseState.OPEN)
    interaction = InteractionFactory(
        customer=source.customer, subject="Second matter", case_reference=source.reference
    )
    message = InboundMessage.objects.create(
        channel="email",
        external_id="<e2e-move@example.de>",
        payload={},
        status=InboundStatus.PROCESSED,
        customer=source.customer,
        case=source,
        interaction=interaction,
        reason="open_case",
    )
    log_in("kim", Role.AGENT)
    page.goto(f"{live_server.url}{source.get_absolute_url()}")
    row = page.locator(f"#inbound-{message.pk}")
    row.get_by_text("Move to case…").click()
    row.get_by_label("Case reference").fill(target.reference)
    row.get_by_role("button", name="Move", exact=True).click()

    expect(page.locator(f"#inbound-{message.pk}")).to_have_count(0)
    expect(page.get_by_role("status")).to_contain_text(f"moved to {target.reference}")
    expect(page.locator(".events")).to_contain_text(f"A message was moved to {target.reference}")

    page.goto(f"{live_server.url}{target.get_absolute_url()}")
    row = page.locator(f"#inbound-{message.pk}")
    expect(row).to_contain_text(f"Moved here by kim from {source.reference}")
    row.get_by_role("button", name="Undo").click()
    expect(page.locator(f"#inbound-{message.pk}")).to_have_count(0)
    message.refresh_from_db()
    assert message.case_id == source.pk
    page.wait_for_load_state("networkidle")
