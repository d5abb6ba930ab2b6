"""What one inbound message costs: a fixed number of statements per path, and no write per
request to the channel key's row (issue 5, `tests/bench/bench_intake.py`)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from cases.intake import LIVE_KEYS, channel_key_create, channel_key_hash
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
    # stored already?, sender, open cases, interaction, case activity, stored message (6),
    # and on PostgreSQL the keys of the message and its interaction, drawn beforehand (7);
    # the rules come from memory. Plus, in a test only: the channel keys, read afresh
    # because the key was made in the test's own transaction that never commits, and the
    # savepoint pair the test's transaction turns the outer transaction into.
    with django_assert_max_num_queries(10):
        assert post(client, sms_key, "open-1").status_code == 201
    assert InboundMessage.objects.get(external_id="open-1").reason == "open_case"


def test_a_message_opening_a_case_costs_a_fixed_number_of_statements(
    client: Client, sms_key: str, anna, django_assert_max_num_queries
) -> None:
    post(client, sms_key, "warm-up")  # opens a case; out of the window, the next opens another
    Case.objects.update(updated_at=timezone.now() - timedelta(days=60))
    # 13: the six above less the case activity, plus the case number, the case, its
    # history row, its event, the addresses to answer on, the acknowledgements that
    # address had this hour, the outbox row and its delivery task (the ORM broker's row,
    # in the same transaction); no existence check per relation, no savepoint, no SLA
    # policy read (kept in memory). On PostgreSQL three draws of keys more (16). Plus the
    # test's three.
    with django_assert_max_num_queries(19):
        assert post(client, sms_key, "new-1").status_code == 201
    assert InboundMessage.objects.get(external_id="new-1").reason == "new_case"


def test_a_duplicate_costs_two_look_ups(
    client: Client, sms_key: str, anna, django_assert_max_num_queries
) -> None:
    post(client, sms_key, "dup-1")
    # the stored message's id (asked with the sender's customers and open cases and, on
    # PostgreSQL, keys for what would be written, in one round trip), then the row itself;
    # plus the test's three
    with django_assert_max_num_queries(8):
        response = post(client, sms_key, "dup-1")
    assert response.status_code == 200
    assert response.json()["duplicate"] is True


@pytest.mark.django_db(transaction=True)
def test_a_key_made_in_another_process_counts_at_once() -> None:
    """The live keys are kept in memory; a key made elsewhere (here: written without a
    signal, as another process would) is looked up, not refused until the memory is
    renewed. A revocation elsewhere counts once the memory is renewed."""
    client = Client()
    ContactPointFactory(value="0151 00000001", normalised="+4915100000001")
    first = channel_key_create(channel="sms", name="sms gateway")[1]
    assert post(client, first, "first").status_code == 201  # the keys are in memory now
    assert len(LIVE_KEYS.get()) == 1
    row = ChannelKey(channel="sms", name="second", prefix="x", key_hash=channel_key_hash("k2"))
    ChannelKey.objects.bulk_create([row])  # no post_save: this process is not told
    assert len(LIVE_KEYS.get()) == 1
    assert post(client, "k2", "second").status_code == 201
    ChannelKey.objects.filter(key_hash=row.key_hash).update(revoked_at=timezone.now())
    LIVE_KEYS.forget()  # as after its time to live
    assert post(client, "k2", "third").status_code == 401


class RoundTrips:
    """Counts the times the client waits for PostgreSQL's answers: a statement outside a
    pipeline (with the BEGIN psycopg sends before a transaction's first one), a pipeline's
    sync and end, a commit. Observes psycopg; changes nothing."""

    def __init__(self, monkeypatch) -> None:
        import psycopg
        from django.db import connection

        self.count = 0
        self.connection = connection
        sync, leave, commit = (
            psycopg.Pipeline.sync,
            psycopg.Pipeline.__exit__,
            psycopg.Connection.commit,
        )

        def counted_sync(pipeline):  # type: ignore[no-untyped-def]
            self.count += 1
            return sync(pipeline)

        def counted_exit(pipeline, *exc):  # type: ignore[no-untyped-def]
            self.count += 1
            return leave(pipeline, *exc)

        def counted_commit(conn):  # type: ignore[no-untyped-def]
            self.count += 1
            return commit(conn)

        monkeypatch.setattr(psycopg.Pipeline, "sync", counted_sync)
        monkeypatch.setattr(psycopg.Pipeline, "__exit__", counted_exit)
        monkeypatch.setattr(psycopg.Connection, "commit", counted_commit)

    def __call__(self, execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        from psycopg import pq

        raw = context["connection"].connection
        if raw._pipeline is None:
            idle = raw.info.transaction_status == pq.TransactionStatus.IDLE
            self.count += 2 if idle and not raw.autocommit else 1
        return execute(sql, params, many, context)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("opens_a_case", "trips"),
    [
        # what is stored, the senders' customers and open cases, quoted cases and keys to
        # write with (BEGIN with them); every write at once; the commit
        (False, 3),
        # and: the case number, keys for the case, its events and the outbox row, the
        # addresses to answer on and the acknowledgements they had this hour
        (True, 4),
    ],
)
def test_one_message_waits_for_the_database_a_fixed_number_of_times(
    monkeypatch, opens_a_case: bool, trips: int
) -> None:
    """On PostgreSQL intake's statements go out together where they do not wait for each
    other (psycopg's pipeline mode, `cpm.rows.rows_together`, `rows_pipeline`)."""
    from django.db import connection

    client = Client()
    key = channel_key_create(channel="sms", name="sms gateway")[1]
    customer = CustomerFactory()
    ContactPointFactory(customer=customer, value="0151 00000001", normalised="+4915100000001")
    if not opens_a_case:
        CaseFactory(customer=customer)
    post(client, key, "warm-up")  # keys, rules, policies in memory; last use recorded
    if opens_a_case:
        Case.objects.update(updated_at=timezone.now() - timedelta(days=60))
    counter = RoundTrips(monkeypatch)
    with connection.execute_wrapper(counter):
        assert post(client, key, "counted").status_code == 201
    assert counter.count == trips
