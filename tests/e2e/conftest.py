from __future__ import annotations

import json
import urllib.request

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page

from cpm.roles import Role
from tests.conftest import user_with_role

PASSWORD = "pw-e2e-secret"


@pytest.fixture(autouse=True)
def no_console_errors(page: Page):
    """A CSP violation, a failed script or an htmx error shows up as a console error."""
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield
    expected = [e for e in errors if "status of 40" in e]  # refused actions answer 4xx
    assert [e for e in errors if e not in expected] == []


@pytest.fixture
def log_in(live_server, page: Page):
    """Log in through the real log-in page, as a person would."""

    def log_in_as(username: str, role: Role) -> User:
        user = user_with_role(username, role)
        user.set_password(PASSWORD)
        user.save()
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("User name").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{live_server.url}/")
        return user

    return log_in_as


def inbound_post(url: str, key: str, channel: str, body: dict) -> dict:
    """Deliver one message to the live server's intake API as a gateway would; the answer."""
    request = urllib.request.Request(
        f"{url}/api/v1/inbound/{channel}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        return json.load(response)
