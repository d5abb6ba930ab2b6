"""What one inbound message costs: a fixed number of statements per path, and no write per
request to the channel key's row (issue 5, `tests/bench/bench_intake.py`)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from cases.intake import LIVE_KEYS, channel_key_create
from cases.models import Case, ChannelKey, InboundMessage
from tests.factories import CaseFactory, ContactPointFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def post(client: Client, key: str, external_id: str, sender: str = "+4915100000001", **fields):
    body = {"external_id": external_id, "from": sender, "body": "Bitte um Rückruf", **fields}
    return client.post(
        "/api/v1/inbound/sms",
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}"},
    )


@pytest.fixture
def sms_key() -> str:
    return channel_key_create(channel="sms", name="sms gateway")[1]


@pytest.fixture
def anna():
    customer = CustomerFactory()
    ContactPointFactory(customer=customer, value="0151 00000001", normalised="+4915100000001")
    return customer


def test_a_key_in_steady_use_records_its_last_use_at_most_once_a_minute(
    client: Client, sms_key: str, anna
) -> None:
    row = ChannelKey.objects.get()
    assert post(client, sms_key, "k-1").status_code == 201
    row.refresh_from_db()
    first_use = row.last_used_at
    assert first_use is not None

    recent = timezone.now() - timedelta(seconds=30)
    ChannelKey.objects.filter(pk=row.pk).update(last_used_at=recent)
    LIVE_KEYS.forget()  # as after its time to live: the keys are read again
    assert post(client, sms_key, "k-2").status_code == 201
    row.refresh_from_db()
    assert row.last_used_at == recent

    ChannelKey.objects.filter(pk=row.pk).update(last_used_at=recent - timedelta(minutes=1))
    LIVE_KEYS.forget()
    assert post(client, sms_key, "k-3").status_code == 201
    row.refresh_from_db()
    assert row.last_used_at > recent


def test_a_message_to_an_open_case_costs_a_fixed_number_of_statements(
    client: Client, sms_key: str, anna, django_assert_max_num_queries
) -> None:
    CaseFactory(customer=anna)
    post(client, sms_key, "warm-up")  # the key's last use is written once
    # key, stored?, sender, open cases, rules, default type, interaction, case activity,
    # stored message; plus the savepoint pair that the test's own transaction turns the
    # outer transaction into (no savepoint of its own: the careful way is the fallback)
    with django_assert_max_num_queries(11):
        assert post(client, sms_key, "open-1").status_code == 201
    assert InboundMessage.objects.get(external_id="open-1").reason == "open_case"


def test_a_message_opening_a_case_costs_a_fixed_number_of_statements(
    client: Client, sms_key: str, anna, django_assert_max_num_queries
) -> None:
    post(client, sms_key, "warm-up")  # opens a case; out of the window, the next opens another
    Case.objects.update(updated_at=timezone.now() - timedelta(days=60))
    # 18 here: the case number, the SLA policy (none in the test data), the case, its
    # history row, its event, the contact points to answer on, the outbox row and its
    # delivery task (the ORM broker's row, in the same transaction), each once; no
    # existence check per relation, no savepoint
    with django_assert_max_num_queries(18):
        assert post(client, sms_key, "new-1").status_code == 201
    assert InboundMessage.objects.get(external_id="new-1").reason == "new_case"


def test_a_duplicate_costs_a_failed_insert_and_one_look_up(
    client: Client, sms_key: str, anna, django_assert_max_num_queries
) -> None:
    post(client, sms_key, "dup-1")
    # key, the stored message found; plus the savepoint statements of the test's own
    # transaction
    with django_assert_max_num_queries(4):
        response = post(client, sms_key, "dup-1")
    assert response.status_code == 200
    assert response.json()["duplicate"] is True
