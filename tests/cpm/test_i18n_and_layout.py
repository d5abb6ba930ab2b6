from __future__ import annotations

import pytest
from django.urls import reverse


@pytest.mark.django_db
def test_german_interface_after_switching_language(agent_client) -> None:
    response = agent_client.post(
        reverse("set_language"), {"language": "de", "next": "/"}, follow=True
    )
    html = response.content.decode()
    assert '<html lang="de">' in html
    assert "Meine Fälle" in html
    assert "Abmelden" in html


@pytest.mark.django_db
def test_base_layout_serves_vendored_htmx_and_no_inline_script(agent_client) -> None:
    response = agent_client.get(reverse("home"))
    html = response.content.decode()
    assert "/static/django_htmx/htmx-2.min.js" in html
    assert 'hx-headers=\'{"X-CSRFToken"' in html
    assert "<script>" not in html
    assert "script-src 'self' 'nonce-" in response.headers["Content-Security-Policy"]
    assert "http://" not in html.replace("http://testserver", "")


@pytest.mark.django_db
def test_navigation_follows_the_role(agent_client, admin_client) -> None:
    assert reverse("admin:index") not in agent_client.get(reverse("home")).content.decode()
    assert reverse("admin:index") in admin_client.get(reverse("home")).content.decode()


@pytest.mark.django_db
def test_404_page_uses_the_house_style(agent_client, settings) -> None:
    settings.DEBUG = False
    response = agent_client.get("/no-such-page/")
    assert response.status_code == 404
    assert "cpm.css" in response.content.decode()


def test_health_answers_without_login(client, db) -> None:
    assert client.get(reverse("health")).json() == {"status": "ok"}
