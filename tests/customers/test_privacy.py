"""Data-subject rights: the export holds everything, the erasure leaves no personal value."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cases import guided
from cases.intake import inbound_receive
from cases.models import Case, CaseEvent, CaseState, GuidedRun
from cases.outbox import outbound_queue
from cases.services import case_note_add
from customers import merging, privacy, services
from customers.models import (
    AuditAction,
    AuditEvent,
    Channel,
    ContactKind,
    Customer,
    Direction,
    Interaction,
    PaymentMethod,
)
from guidance.services import process_import
from tests.factories import CaseFactory, CustomerFactory

PROCESSES = Path(__file__).resolve().parents[2] / "guidance" / "processes"
CANARIES = [
    "Xylander",  # surname: name, e-mail, street, texts
    "23456789",  # phone number digits, as typed and normalised
    "0532013000",  # the IBAN's account part
    "1971-02-03",  # birth date
    "Quenby",  # first name
]


def text_values() -> list[tuple[str, str]]:
    """Every value of every column of every table, as text, with its table's name."""
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, dict | list):
                        value = json.dumps(value, ensure_ascii=False)
                    if value is not None:
                        found.append((table, str(value)))
    return found


def canaries_left() -> list[tuple[str, str]]:
    return [
        (table, value[:80])
        for table, value in text_values()
        for canary in CANARIES
        if canary.lower() in value.lower()
    ]


@pytest.fixture
def quenby(agent) -> Customer:
    """A customer whose personal data carries the canaries into every table it reaches."""
    customer = services.customer_create(name="Quenby Xylandr", date_of_birth=date(1971, 2, 3))
    services.customer_update(customer=customer, name="Quenby Xylander", by=agent)
    services.contact_point_add(
        customer=customer, kind=ContactKind.MOBILE, value="0151 23456789", by=agent
    )
    services.contact_point_add(
        customer=customer, kind=ContactKind.EMAIL, value="Quenby.Xylander@example.org", by=agent
    )
    services.address_change(
        customer=customer, street="Xylanderweg 1", postal_code="10115", city="Berlin", by=agent
    )
    services.holding_create(
        customer=customer,
        product="DSL 100",
        contract_number="V-XY-1",
        start=date(2024, 1, 1),
        monthly_fee=Decimal("29.99"),
        payment_method=PaymentMethod.DIRECT_DEBIT,
        iban="DE89 3704 0044 0532 0130 00",
        by=agent,
    )
    services.interaction_record(
        customer=customer,
        channel=Channel.EMAIL,
        direction=Direction.INBOUND,
        occurred_at=timezone.now() - timedelta(days=1),
        subject="Umzug Quenby Xylander",
        body="Hallo, hier Quenby Xylander, Tel. 0151 23456789.",
    )
    case = CaseFactory(customer=customer, subject="Umzug Xylander", state=CaseState.NEW)
    case_note_add(case=case, by=agent, text="Rückruf an Frau Xylander unter 0151 23456789")
    version = process_import(
        text=(PROCESSES / "change-of-address.yaml").read_text(), by=None, publish=True
    )
    run = guided.run_start(case=case, version=version, by=agent)
    guided.run_step_submit(
        case=case, by=agent, data={"identity_confirmed": "yes"}, revision=run.revision
    )
    run.refresh_from_db()
    guided.run_step_submit(
        case=case,
        by=agent,
        data={
            "street": "Xylanderweg 12",
            "postal_code": "10117",
            "city": "Berlin",
            "moving_date": "2026-12-01",
        },
        revision=run.revision,
    )
    # A message through the intake API's service (raw payload kept) and a status message in
    # the outbox: both hold addresses and free text.
    customer.consent_service = True
    customer.save(update_fields=["consent_service"])
    inbound_receive(
        channel="email",
        payload={
            "external_id": "canary-1",
            "from": "Quenby.Xylander@example.org",
            "subject": f"Re: {case.reference}",
            "body": "Quenby Xylander, Tel. 0151 23456789",
        },
    )
    outbound_queue(
        customer=customer, case=case, key="canary-out", subject="Hallo Frau Xylander", body="x"
    )
    LogEntry.objects.create(
        user=agent,
        content_type=ContentType.objects.get_for_model(Customer),
        object_id=str(customer.pk),
        object_repr=str(customer),
        action_flag=CHANGE,
        change_message="changed name",
    )
    return customer


@pytest.mark.django_db
def test_erasure_leaves_no_personal_value_anywhere_in_the_database(quenby, supervisor) -> None:
    # A duplicate record of the same person, merged into the customer: erased with it.
    twin = services.customer_create(name="Quenby Xylanda", date_of_birth=date(1971, 2, 3))
    services.contact_point_add(
        customer=twin, kind=ContactKind.EMAIL, value="q.xylander@example.net", by=supervisor
    )
    merging.customer_merge(source=twin, target=quenby, by=supervisor)
    assert canaries_left(), "the fixture must put the canaries into the database"
    privacy.customer_export(customer=quenby, by=supervisor)

    privacy.customer_erase(customer=quenby, by=supervisor, confirm=quenby.number)

    assert canaries_left() == []


@pytest.mark.django_db
def test_erasure_keeps_the_records_that_statistics_count(quenby, supervisor) -> None:
    case = Case.objects.get(customer=quenby)
    before = (
        Interaction.objects.filter(customer=quenby).count(),
        CaseEvent.objects.filter(case=case).count(),
        case.state,
        case.created_at,
    )
    privacy.customer_erase(customer=quenby, by=supervisor, confirm=quenby.number)
    case.refresh_from_db()
    after = (
        Interaction.objects.filter(customer=quenby).count(),
        CaseEvent.objects.filter(case=case).count(),
        case.state,
        case.created_at,
    )
    assert after == before
    run = GuidedRun.objects.get(case=case)
    assert set(run.answers) and all(value is None for value in run.answers.values())
    quenby.refresh_from_db()
    assert quenby.erased_at is not None
    assert quenby.number.startswith("K-")
    assert AuditEvent.objects.filter(action=AuditAction.ERASE, customer=quenby).count() == 1


@pytest.mark.django_db
def test_erasure_needs_the_customer_number_as_confirmation(
    quenby, supervisor_client: Client
) -> None:
    url = reverse("customers:customer-erase", args=[quenby.pk])
    response = supervisor_client.post(url, {"confirm": "K-000000"})
    assert response.status_code == 302
    quenby.refresh_from_db()
    assert quenby.erased_at is None
    response = supervisor_client.post(url, {"confirm": quenby.number.lower()})
    assert response.status_code == 302
    quenby.refresh_from_db()
    assert quenby.erased_at is not None
    page = supervisor_client.get(quenby.get_absolute_url())
    assert 'data-flag="erased"' in page.content.decode()
    assert "Xylander" not in page.content.decode()


@pytest.mark.django_db
def test_json_export_holds_everything_stored_and_is_audited(
    quenby, supervisor_client: Client
) -> None:
    response = supervisor_client.get(reverse("customers:customer-export-json", args=[quenby.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    data = json.loads(response.content)
    assert data["customer"]["name"] == "Quenby Xylander"
    assert data["customer"]["date_of_birth"] == "1971-02-03"
    assert {c["normalised"] for c in data["contact_points"]} >= {
        "+4915123456789",
        "quenby.xylander@example.org",
    }
    assert data["holdings"][0]["iban"] == "DE89370400440532013000"
    assert "Quenby Xylander" in data["interactions"][0]["body"]
    assert data["attachments"] == []
    assert any(change["old"] == "Quenby Xylandr" for change in data["changes"])
    assert data["cases"][0]["subject"] == "Umzug Xylander"
    assert any("Xylander" in event["reason"] for event in data["case_events"])
    assert data["guided_runs"][0]["answers"]
    assert AuditEvent.objects.filter(action=AuditAction.EXPORT, customer=quenby).exists()


@pytest.mark.django_db
def test_readable_export_page_shows_every_section(quenby, supervisor_client: Client) -> None:
    response = supervisor_client.get(reverse("customers:customer-export", args=[quenby.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    for section in ("customer", "contact_points", "addresses", "interactions", "cases"):
        assert f'id="export-{section}"' in html
    assert "Xylanderweg 1" in html
    assert 'name="confirm"' in html  # supervisors may erase from here


@pytest.mark.django_db
def test_agents_may_neither_export_nor_erase(agent_client: Client) -> None:
    customer = CustomerFactory()
    assert (
        agent_client.get(reverse("customers:customer-export", args=[customer.pk])).status_code
        == 403
    )
    response = agent_client.post(
        reverse("customers:customer-erase", args=[customer.pk]), {"confirm": customer.number}
    )
    assert response.status_code == 403
    customer.refresh_from_db()
    assert customer.erased_at is None


@pytest.mark.django_db
def test_the_export_lists_the_files_that_came_with_messages(
    quenby, supervisor_client: Client, settings, tmp_path
) -> None:
    settings.MEDIA_ROOT = tmp_path
    contact = quenby.interactions.first()
    services.attachment_add(
        interaction=contact, filename="zaehler.jpg", content_type="image/jpeg", data=b"x" * 10
    )
    response = supervisor_client.get(reverse("customers:customer-export-json", args=[quenby.pk]))
    (attachment,) = json.loads(response.content)["attachments"]
    assert attachment["filename"] == "zaehler.jpg"
    assert (attachment["interaction_id"], attachment["size"]) == (contact.pk, 10)
    page = supervisor_client.get(reverse("customers:customer-export", args=[quenby.pk]))
    assert 'id="export-attachments"' in page.content.decode()
