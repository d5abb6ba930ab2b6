"""Twenty gateways deliver the same message at once: exactly one interaction (PostgreSQL)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import Client

from cases.intake import channel_key_create
from cases.models import InboundMessage
from customers.models import Interaction


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_deliveries_of_one_message_make_one_interaction() -> None:
    key = channel_key_create(channel="email", name="mail")[1]
    body = {"external_id": "same", "from": "anna@example.de", "subject": "Hallo"}

    def deliver(_n: int) -> tuple[int, dict]:
        try:
            response = Client().post(
                "/api/v1/inbound/email",
                body,
                content_type="application/json",
                headers={"Authorization": f"Bearer {key}"},
            )
            return response.status_code, response.json()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(deliver, range(20)))
    statuses = sorted(status for status, _answer in answers)
    assert statuses == [200] * 19 + [201]
    assert len({(a["interaction"], a["case"]) for _s, a in answers}) == 1
    assert Interaction.objects.count() == 1
    assert InboundMessage.objects.count() == 1
