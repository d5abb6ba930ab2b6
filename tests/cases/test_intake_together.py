"""The messages of one request are resolved together (a few statements for all of them) but
land exactly where they would land one after the other; when that fails, each message goes
the careful way (processed alone, stored with the outcome)."""

from __future__ import annotations

import json
import random
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from cases.intake import channel_key_create, inbound_receive, inbound_receive_many
from cases.memo import MEMOS
from cases.models import Case, CaseEvent, ExceptionItem, InboundMessage, OutboundMessage
from customers.models import Customer, Interaction
from tests.factories import CaseFactory, ContactPointFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def sms(n: int, sender: str, body: str = "Bitte um Rückruf", **fields: object) -> dict:
    return {"external_id": f"sms-{n}", "from": sender, "body": body, **fields}


@pytest.fixture
def anna() -> Customer:
    customer = CustomerFactory(language="de")
    ContactPointFactory(customer=customer, value="0151 00000001", normalised="+4915100000001")
    return customer


def cases_of(answers) -> list[str]:
    return [answer.message.case.reference for answer in answers]


def test_two_messages_of_one_customer_in_one_batch_open_one_case(anna: Customer) -> None:
    answers = inbound_receive_many(
        channel="sms",
        payloads=[sms(1, "+4915100000001"), sms(2, "0151 00000001", "Noch etwas")],
    )
    assert [a.message.reason for a in answers] == ["new_case", "open_case"]
    assert len(set(cases_of(answers))) == 1
    assert Case.objects.filter(customer=anna).count() == 1
    # one acknowledgement, one creation event: as if the two had come one after the other
    assert OutboundMessage.objects.filter(customer=anna).count() == 1
    assert CaseEvent.objects.filter(kind="created").count() == 1
    assert Interaction.objects.filter(customer=anna).count() == 2


def test_an_unknown_sender_twice_in_one_batch_makes_one_prospect(db) -> None:
    answers = inbound_receive_many(
        channel="sms", payloads=[sms(1, "+4917000000009"), sms(2, "0170 00000009")]
    )
    prospects = Customer.objects.filter(status="prospect")
    assert prospects.count() == 1
    assert {a.message.customer_id for a in answers} == {prospects.get().pk}
    assert len(set(cases_of(answers))) == 1
    # the second message comes from the prospect's own (unverified) number: not again
    assert ExceptionItem.objects.filter(source="to-identify").count() == 1


def test_a_message_answering_an_earlier_one_of_the_same_batch_joins_its_case(db) -> None:
    first = {"external_id": "<a@x.de>", "from": "neu@example.de", "subject": "Frage"}
    answer = {"external_id": "<b@x.de>", "from": "other@example.de", "in_reply_to": "<a@x.de>"}
    answers = inbound_receive_many(channel="email", payloads=[first, answer])
    assert answers[1].message.reason == "reply"
    assert cases_of(answers)[0] == cases_of(answers)[1]
    assert answers[1].message.needs_confirmation is True  # not a contact of that customer


def test_a_quoted_reference_makes_that_case_the_most_recent_for_the_next_message(
    anna: Customer,
) -> None:
    older, newer = CaseFactory(customer=anna), CaseFactory(customer=anna)
    Case.objects.filter(pk=older.pk).update(updated_at=newer.updated_at.replace(year=2026, day=1))
    answers = inbound_receive_many(
        channel="sms",
        payloads=[
            sms(1, "+4915100000001", f"Zu {older.reference}"),
            sms(2, "+4915100000001", "und noch etwas"),
        ],
    )
    assert [a.message.reason for a in answers] == ["ref_text", "open_case"]
    assert cases_of(answers) == [older.reference, older.reference]


def test_one_batch_costs_the_same_statements_for_one_message_and_for_fifty(
    anna: Customer,
) -> None:
    def statements(payloads: list[dict]) -> int:
        for memo in MEMOS:  # read afresh now: none may expire between the two counts
            memo.forget()
            memo.get()
        with CaptureQueriesContext(connection) as queries:
            inbound_receive_many(channel="sms", payloads=payloads)
        return len(queries)

    others = [CustomerFactory() for _ in range(50)]
    for n, customer in enumerate(others):
        ContactPointFactory(
            customer=customer, value=f"+491520000{n:04d}", normalised=f"+491520000{n:04d}"
        )
    one = statements([sms(0, "+4915100000001")])
    fifty = statements([sms(n + 1, f"+491520000{n:04d}") for n in range(50)])
    # Every message opens a case: one statement per kind of row. SQLite takes at most 999
    # parameters per statement, so Django splits the larger inserts there.
    assert fifty - one <= (0 if connection.vendor == "postgresql" else 5)
    assert Case.objects.count() == 51


def test_a_failure_in_one_message_leaves_the_others_processed_and_keeps_it(
    anna: Customer, monkeypatch
) -> None:
    from cases import intake

    real = intake.message_from_payload

    def broken(channel: str, payload: dict):
        if payload["external_id"] == "sms-2":
            raise RuntimeError("boom")
        return real(channel, payload)

    monkeypatch.setattr(intake, "message_from_payload", broken)
    answers = inbound_receive_many(
        channel="sms",
        payloads=[sms(1, "+4915100000001"), sms(2, "+4915100000001"), sms(3, "0151 00000001")],
    )
    assert [a.message.status for a in answers] == ["processed", "failed", "processed"]
    assert InboundMessage.objects.count() == 3  # the failed one is kept, raw
    assert ExceptionItem.objects.filter(source="intake-retry").count() == 1
    assert Interaction.objects.count() == 2


def test_the_single_path_is_a_batch_of_one(anna: Customer) -> None:
    answer = inbound_receive(channel="sms", payload=sms(1, "+4915100000001"))
    again = inbound_receive(channel="sms", payload=sms(1, "+4915100000001"))
    assert (answer.duplicate, again.duplicate) == (False, True)
    assert again.message.pk == answer.message.pk


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_overlapping_batches_at_once_store_each_message_once() -> None:
    """Eight gateways post batches that share messages: a batch that meets another's row
    falls back to the careful way; every message ends up stored and recorded once."""
    key = channel_key_create(channel="sms", name="sms")[1]
    customers = [CustomerFactory() for _ in range(20)]
    for n, customer in enumerate(customers):
        ContactPointFactory(
            customer=customer, value=f"+49151200{n:05d}", normalised=f"+49151200{n:05d}"
        )
    messages = [sms(n, f"+49151200{n % 20:05d}") for n in range(40)]

    def deliver(start: int) -> list[dict]:
        try:
            batch = [messages[(start * 5 + i) % 40] for i in range(20)]
            response = Client().post(
                "/api/v1/inbound/sms/batch",
                json.dumps({"messages": batch}),
                content_type="application/json",
                headers={"Authorization": f"Bearer {key}"},
            )
            assert response.status_code == 200
            return response.json()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = [a for batch in pool.map(deliver, range(8)) for a in batch]
    assert {a["status"] for a in answers} <= {200, 201}
    assert InboundMessage.objects.count() == 40
    assert Interaction.objects.count() == 40
    by_message: dict[int, set] = {}
    for answer in answers:
        by_message.setdefault(answer["interaction"], set()).add(answer["case"])
    assert len(by_message) == 40
    assert all(len(cases) == 1 for cases in by_message.values())


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_batches_of_the_same_messages_in_any_order_never_deadlock() -> None:
    """Six gateways deliver the same messages at once, each in its own order: groups meet
    each other's rows and fall back to message by message while other groups still hold
    their case locks. All take their locks in one order, so no message ends up
    failed as a deadlock's victim, and each is recorded once."""
    customers = [CustomerFactory() for _ in range(4)]
    for n, customer in enumerate(customers):
        ContactPointFactory(
            customer=customer, value=f"+49151300{n:05d}", normalised=f"+49151300{n:05d}"
        )
    rounds, per_round = 4, 40

    def deliver(gateway: int, messages: list[dict]) -> None:
        try:
            order = random.Random(gateway).sample(messages, len(messages))
            for start in range(0, len(order), 8):
                inbound_receive_many(channel="sms", payloads=order[start : start + 8])
        finally:
            connection.close()

    for r in range(rounds):
        messages = [
            sms(r * 1000 + n, f"+49151300{n % 4:05d}", body=f"Neu {n}" if n % 3 else "Zähler")
            for n in range(per_round)
        ]
        with ThreadPoolExecutor(max_workers=6) as pool:
            list(pool.map(deliver, range(6), [messages] * 6))

    assert InboundMessage.objects.count() == rounds * per_round
    assert not InboundMessage.objects.exclude(status="processed").exists()
    assert Interaction.objects.count() == rounds * per_round
    assert not ExceptionItem.objects.exists()
