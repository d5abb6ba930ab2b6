"""Status notifications through the outbox: written with the transition, sent once, recorded."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone
from django_q.models import OrmQ

from cases.intake import inbound_receive
from cases.models import (
    Case,
    CaseState,
    CaseType,
    ExceptionItem,
    OutboundMessage,
    OutboundStatus,
    StatusNotice,
    TransitionInput,
)
from cases.outbox import MAX_ATTEMPTS, outbound_deliver, quiet_until
from cases.services import case_transition
from customers.models import ContactKind, Direction, Language
from tests.factories import CaseFactory, ContactPointFactory, CustomerFactory

pytestmark = pytest.mark.django_db
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def customer():
    customer = CustomerFactory(consent_service=True, language=Language.ENGLISH)
    ContactPointFactory(
        customer=customer,
        kind=ContactKind.EMAIL,
        value="kim@example.de",
        normalised="kim@example.de",
    )
    return customer


def wait_for_customer(case, agent):
    return case_transition(
        case=case,
        name="wait_for_customer",
        by=agent,
        data=TransitionInput(reason="Need the meter reading"),
    )


def test_a_customer_visible_transition_writes_one_outbox_row(customer, agent) -> None:
    case = CaseFactory(customer=customer, state=CaseState.OPEN)
    wait_for_customer(case, agent)
    message = OutboundMessage.objects.get()
    assert (message.channel, message.recipient) == ("email", "kim@example.de")
    assert case.reference in message.body
    assert message.status == OutboundStatus.QUEUED


def test_delivery_sends_once_and_records_the_timeline(customer, agent) -> None:
    case = CaseFactory(customer=customer, state=CaseState.OPEN)
    wait_for_customer(case, agent)
    message = OutboundMessage.objects.get()
    outbound_deliver(pk=message.pk)
    outbound_deliver(pk=message.pk)  # a retried task
    assert len(mail.outbox) == 1
    assert mail.outbox[0].extra_headers["X-CPM-Idempotency-Key"] == message.idempotency_key
    assert mail.outbox[0].extra_headers["Auto-Submitted"] == "auto-generated"
    message.refresh_from_db()
    assert message.status == OutboundStatus.SENT
    assert message.interaction.direction == Direction.OUTBOUND
    assert message.interaction.case_reference == case.reference


def test_no_message_without_consent_or_for_an_invisible_state(agent) -> None:
    customer = CustomerFactory(consent_service=False)
    ContactPointFactory(customer=customer, kind=ContactKind.EMAIL, normalised="a@b.de")
    wait_for_customer(CaseFactory(customer=customer, state=CaseState.OPEN), agent)
    assert not OutboundMessage.objects.exists()
    StatusNotice.objects.filter(state=CaseState.WAITING_CUSTOMER).delete()
    customer.consent_service = True
    customer.save()
    wait_for_customer(CaseFactory(customer=customer, state=CaseState.OPEN), agent)
    assert not OutboundMessage.objects.exists()


def test_a_case_type_can_make_a_state_visible(customer, agent) -> None:
    StatusNotice.objects.filter(state=CaseState.WAITING_CUSTOMER).delete()
    billing = CaseType.objects.create(name_en="Billing", name_de="Rechnung")
    StatusNotice.objects.create(case_type=billing, state=CaseState.WAITING_CUSTOMER)
    wait_for_customer(CaseFactory(customer=customer, state=CaseState.OPEN), agent)
    assert not OutboundMessage.objects.exists()
    wait_for_customer(
        CaseFactory(customer=customer, state=CaseState.OPEN, case_type=billing), agent
    )
    assert OutboundMessage.objects.count() == 1


def test_a_new_case_from_intake_is_acknowledged_on_the_channel_used(customer) -> None:
    ContactPointFactory(customer=customer, normalised="+4915100000001")
    customer.preferred_channel = "email"
    customer.save()
    received = inbound_receive(
        channel="sms", payload={"external_id": "s1", "from": "015100000001", "body": "Hallo"}
    ).message
    message = OutboundMessage.objects.get()
    assert message.idempotency_key == f"case-{received.case_id}-received"
    assert message.channel == "sms"


def test_a_message_that_keeps_failing_ends_in_the_exception_queue(
    customer, agent, settings
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    wait_for_customer(CaseFactory(customer=customer, state=CaseState.OPEN), agent)
    message = OutboundMessage.objects.get()
    for _attempt in range(MAX_ATTEMPTS):
        outbound_deliver(pk=message.pk)
    message.refresh_from_db()
    assert message.status == OutboundStatus.FAILED
    assert message.attempts == MAX_ATTEMPTS
    assert ExceptionItem.objects.get(source="outbox").case == message.case


@pytest.mark.parametrize(
    ("now", "held_until"),
    [
        ((25, 12, 0), None),
        ((25, 7, 59), (25, 8, 0)),
        ((25, 21, 0), (26, 8, 0)),
        ((25, 23, 30), (26, 8, 0)),
    ],
)
def test_quiet_hours_hold_sms_until_eight(now: tuple, held_until: tuple | None) -> None:
    def at(day: int, hour: int, minute: int) -> datetime:
        return datetime(2026, 11, day, hour, minute, tzinfo=BERLIN)

    assert quiet_until(at(*now)) == (at(*held_until) if held_until else None)


def test_the_delivery_task_commits_or_rolls_back_with_the_message(customer, agent) -> None:
    """With the ORM broker the task row is written in the transition's transaction."""
    with pytest.raises(RuntimeError), transaction.atomic():
        wait_for_customer(CaseFactory(customer=customer, state=CaseState.OPEN), agent)
        assert OrmQ.objects.count() == 1
        raise RuntimeError("roll back")
    assert not OrmQ.objects.exists() and not OutboundMessage.objects.exists()
    wait_for_customer(CaseFactory(customer=customer, state=CaseState.OPEN), agent)
    message = OutboundMessage.objects.get()
    assert OrmQ.objects.get().task["args"] == (message.pk,)


def raw_mail(*headers: str, sender: str = "kim@example.de", kind: str = "text/plain") -> str:
    lines = [f"From: {sender}", "To: service@cpm.example", "Subject: Abwesend", *headers]
    lines += [f"Content-Type: {kind}", "", "Ich bin bis Montag nicht im Büro."]
    return base64.b64encode("\r\n".join(lines).encode()).decode()


@pytest.mark.parametrize(
    "headers",
    [
        ("Auto-Submitted: auto-replied",),
        ("Auto-Submitted: auto-generated; owner-email=x@example.de",),
        ("Precedence: bulk",),
        ("Precedence: auto_reply",),
        ("X-Loop: service@cpm.example",),
        ("X-Autoreply: yes",),
    ],
)
def test_an_automatic_mail_is_kept_but_never_answered(customer, headers) -> None:
    received = inbound_receive(
        channel="email", payload={"external_id": "<ooo@x>", "raw": raw_mail(*headers)}
    ).message
    assert received.interaction is not None and received.case is not None
    assert not OutboundMessage.objects.exists()


def test_a_delivery_report_and_our_own_or_a_daemons_mail_are_never_answered(customer) -> None:
    report = raw_mail(kind='multipart/report; report-type=delivery-status; boundary="b"')
    inbound_receive(channel="email", payload={"external_id": "<dsn@x>", "raw": report})
    for n, sender in enumerate(["service@cpm.example", "MAILER-DAEMON@mx.example.de"]):
        payload = {"external_id": f"own-{n}", "from": sender, "body": "Undeliverable"}
        assert inbound_receive(channel="email", payload=payload).message.case is not None
    assert not OutboundMessage.objects.exists()


@pytest.mark.parametrize("headers", [(), ("Auto-Submitted: no",), ("Precedence: first-class",)])
def test_a_mail_a_person_wrote_is_acknowledged(customer, headers) -> None:
    inbound_receive(channel="email", payload={"external_id": "<p@x>", "raw": raw_mail(*headers)})
    assert OutboundMessage.objects.get().channel == "email"


def test_one_address_gets_at_most_five_acknowledgements_an_hour(customer, settings) -> None:
    """An auto-responder we did not recognise writes again and again: each message opens
    its case (here: the earlier one is closed), only five are answered in the hour."""
    settings.CPM_ACKNOWLEDGEMENTS_PER_HOUR = 5
    for n in range(7):
        inbound_receive(
            channel="email",
            payload={"external_id": f"loop-{n}", "from": "kim@example.de", "subject": "Hi"},
        )
        Case.objects.update(state=CaseState.CLOSED)  # the next message opens a new case
    assert Case.objects.count() == 7
    assert OutboundMessage.objects.filter(recipient="kim@example.de").count() == 5
    # an hour later this address is answered again
    OutboundMessage.objects.update(created_at=timezone.now() - timedelta(minutes=61))
    inbound_receive(
        channel="email",
        payload={"external_id": "loop-late", "from": "kim@example.de", "subject": "Hi"},
    )
    assert OutboundMessage.objects.count() == 6
