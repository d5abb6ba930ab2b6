"""In a real browser: a hostile inbound message is shown as text and runs no script."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from cases.intake import channel_key_create
from cpm.roles import Role
from tests.e2e.conftest import inbound_post

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOSTILE_SUBJECT = '<img src=x onerror="window.__pwned = 1">'
HOSTILE_BODY = "<script>window.__pwned = 2</script><b>fett</b>"


def deliver(url: str, key: str) -> dict:
    body = {
        "external_id": "evil-1",
        "from": "mallory@example.com",
        "subject": HOSTILE_SUBJECT,
        "body": HOSTILE_BODY,
    }
    return inbound_post(url, key, "email", body)


def test_a_script_in_a_message_is_shown_as_text_and_never_runs(
    live_server, page: Page, log_in
) -> None:
    key = channel_key_create(channel="email", name="mail")[1]
    answer = deliver(live_server.url, key)
    log_in("kim", Role.AGENT)
    page.goto(f"{live_server.url}/cases/{answer['case']}/")
    messages = page.locator(".inbound-message")
    expect(messages).to_have_count(1)
    expect(messages.locator("strong")).to_have_text(HOSTILE_SUBJECT)
    expect(messages.locator(".inbound-body")).to_have_text(HOSTILE_BODY)
    expect(page.locator(".timeline")).to_contain_text(HOSTILE_BODY)
    page.wait_for_load_state("networkidle")  # no request still running when the server stops
    assert page.evaluate("window.__pwned === undefined")


def test_the_api_docs_render_from_our_own_static_files(live_server, page: Page) -> None:
    outside = []
    page.on(
        "request", lambda r: None if r.url.startswith(live_server.url) else outside.append(r.url)
    )
    page.goto(f"{live_server.url}/api/v1/docs")
    expect(page.get_by_text("CPM intake API").first).to_be_visible()
    expect(page.get_by_text("/api/v1/inbound/{channel}").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert outside == []
