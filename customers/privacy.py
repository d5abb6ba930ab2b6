"""Data-subject rights: export everything stored about a customer, erase on request.

Erasure anonymises: personal values go, the records stay with their non-personal fields
(times, channels, states, products, fees), so statistics keep counting them. Apps to the
right of `customers` take part through the signals in `customers.signals`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.connectors import billing_connector
from customers.models import (
    Address,
    Attachment,
    AuditAction,
    AuditEvent,
    ChangeEntity,
    ContactPoint,
    Customer,
    CustomerChange,
    CustomerEvent,
    CustomerStatus,
    Holding,
    Interaction,
    PaymentMethod,
)
from customers.services import Actor, actor, customer_lock
from customers.signals import customer_erasing, customer_exporting

ERASED_NAME = "—"
# A direct debit must name an IBAN (a check constraint); after erasure it names none.
IBAN_ERASED = "ERASED"
EXPORT_FIELDS: dict[type[Model], list[str]] = {
    Customer: [
        "number", "name", "kind", "date_of_birth", "register_number", "language",
        "preferred_channel", "consent_service", "consent_marketing", "segment", "status",
        "created_at", "erased_at",
    ],
    ContactPoint: [
        "id", "kind", "network", "value", "normalised", "verified", "primary", "active",
        "created_at",
    ],
    Address: ["id", "street", "postal_code", "city", "country", "valid_from", "valid_until"],
    Holding: [
        "id", "product", "contract_number", "status", "start", "end", "monthly_fee",
        "billing_account", "payment_method", "iban",
    ],
    Interaction: [
        "id", "channel", "direction", "occurred_at", "subject", "body", "case_reference",
    ],
    CustomerChange: ["id", "entity", "entity_id", "field", "detail", "old", "new", "at"],
    CustomerEvent: ["id", "kind", "subject", "detail", "channel", "case_reference", "at"],
    Attachment: [
        "id", "interaction_id", "filename", "content_type", "size", "omitted", "created_at",
    ],
}  # fmt: skip


def plain(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def row(instance: Model, names: list[str]) -> dict[str, object]:
    return {name: plain(getattr(instance, name)) for name in names}


def rows(queryset: Any, model: type[Model]) -> list[dict[str, object]]:
    names = EXPORT_FIELDS[model]
    return [row(instance, names) for instance in queryset.order_by("id").iterator(2000)]


def customer_export(*, customer: Customer, by: Actor) -> dict[str, object]:
    """Everything stored about the customer, as plain JSON-able data; the export is audited.

    Sections: the master data, contact points (also removed ones), addresses (also past
    ones), holdings with full IBAN, every interaction and the files that came with them,
    every recorded change, merges, and
    whatever the receivers of `customer_exporting` add (cases, case events, guided runs).
    """
    pk = customer.pk
    data: dict[str, object] = {
        "exported_at": timezone.now().isoformat(),
        "customer": row(customer, EXPORT_FIELDS[Customer]),
        "contact_points": rows(ContactPoint.objects.filter(customer_id=pk), ContactPoint),
        "addresses": rows(Address.objects.filter(customer_id=pk), Address),
        "holdings": rows(Holding.objects.filter(customer_id=pk), Holding),
        "interactions": rows(Interaction.objects.filter(customer_id=pk), Interaction),
        # The files themselves are downloads on the case screen; listed here by name.
        "attachments": rows(Attachment.objects.filter(interaction__customer_id=pk), Attachment),
        "changes": rows(CustomerChange.objects.filter(customer_id=pk), CustomerChange),
        "events": rows(CustomerEvent.objects.filter(customer_id=pk), CustomerEvent),
        "merged_customers": list(
            Customer.objects.filter(merged_into_id=pk).values_list("number", flat=True)
        ),
    }
    for _receiver, sections in customer_exporting.send(sender=Customer, customer=customer):
        data.update(sections or {})
    AuditEvent.objects.create(
        action=AuditAction.EXPORT,
        customer=customer,
        by=actor(by),
        detail={"sections": sorted(data)},
    )
    return data


def erasure_targets(customer: Customer) -> list[Customer]:
    """The customer and every record merged into it (the same person), however deep."""
    found, frontier = [customer], [customer.pk]
    while frontier:
        merged = list(Customer.objects.filter(merged_into_id__in=frontier))
        found.extend(merged)
        frontier = [c.pk for c in merged]
    return found


@transaction.atomic
def customer_erase(*, customer: Customer, by: Actor, confirm: str) -> Customer:
    """Anonymise the customer on request: names, birth date, register number, contact
    points, addresses, IBANs, the text of interactions, the old and new values of
    recorded changes, and (through `customer_erasing`) the free text of their cases.

    `confirm` must repeat the customer number, so a slip of the mouse erases nothing.
    """
    customer = customer_lock(customer)
    if confirm.strip().upper() != customer.number:
        raise ValidationError({"confirm": _("Type the customer number to confirm the erasure.")})
    if customer.erased_at is not None:
        raise ValidationError(_("This customer's personal data has already been erased."))
    counts: dict[str, int] = {}
    now = timezone.now()
    for person in erasure_targets(customer):
        for name, count in customer_anonymise(person, now=now).items():
            counts[name] = counts.get(name, 0) + count
        customer_erasing.send(sender=Customer, customer=person)
        billing_connector().forget(customer_number=person.number)
    CustomerChange.objects.create(
        customer=customer,
        entity=ChangeEntity.CUSTOMER,
        entity_id=customer.pk,
        field="erased",
        by=actor(by),
        at=now,
    )
    AuditEvent.objects.create(
        action=AuditAction.ERASE, customer=customer, by=actor(by), detail=counts
    )
    customer.refresh_from_db()
    return customer


def customer_anonymise(customer: Customer, *, now: datetime) -> dict[str, int]:
    pk = customer.pk
    contact_ids = list(ContactPoint.objects.filter(customer_id=pk).values_list("id", flat=True))
    address_ids = list(Address.objects.filter(customer_id=pk).values_list("id", flat=True))
    holding_ids = list(Holding.objects.filter(customer_id=pk).values_list("id", flat=True))
    Customer.objects.filter(pk=pk).update(
        name=ERASED_NAME,
        date_of_birth=None,
        register_number="",
        preferred_channel="",
        consent_service=False,
        consent_marketing=False,
        status=CustomerStatus.FORMER,
        erased_at=now,
    )
    counts = {
        "contact_points": ContactPoint.objects.filter(pk__in=contact_ids).delete()[0],
        "addresses": Address.objects.filter(pk__in=address_ids).delete()[0],
        "holdings": Holding.objects.filter(pk__in=holding_ids)
        .exclude(payment_method=PaymentMethod.DIRECT_DEBIT)
        .update(iban=""),
        "interactions": Interaction.objects.filter(customer_id=pk).update(subject="", body=""),
        "attachments": attachments_delete(customer_id=pk),
        "changes": CustomerChange.objects.filter(customer_id=pk).update(old="", new=""),
    }
    counts["holdings"] += (
        Holding.objects.filter(pk__in=holding_ids, payment_method=PaymentMethod.DIRECT_DEBIT)
        .update(iban=IBAN_ERASED)
    )  # fmt: skip
    # Django's admin log names objects by their __str__ (the customer's name).
    for model, ids in (
        (Customer, [pk]),
        (ContactPoint, contact_ids),
        (Address, address_ids),
        (Holding, holding_ids),
    ):
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(model),
            object_id__in=[str(i) for i in ids],
        ).update(object_repr=ERASED_NAME, change_message="")
    return counts


def attachments_delete(*, customer_id: int) -> int:
    """The customer's files go with their personal data: the rows and the stored files.
    A file is removed after commit, so a rolled-back erasure keeps it."""
    attachments = list(Attachment.objects.filter(interaction__customer_id=customer_id))
    names = [a.file.name for a in attachments if a.file]
    storage = Attachment._meta.get_field("file").storage

    def remove() -> None:
        for name in names:
            storage.delete(name)

    transaction.on_commit(remove)
    return Attachment.objects.filter(pk__in=[a.pk for a in attachments]).delete()[0]


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    columns: list[str]
    rows: list[list[object]]


def section_titles() -> dict[str, str]:
    return {
        "customer": _("Master data"),
        "contact_points": _("Contact points"),
        "addresses": _("Addresses"),
        "holdings": _("Products and contracts"),
        "interactions": _("Contacts"),
        "attachments": _("Attachments"),
        "changes": _("Recorded changes"),
        "events": _("Offers and other events"),
        "merged_customers": _("Merged customer records"),
        "cases": _("Cases"),
        "case_events": _("Case history"),
        "guided_runs": _("Guided processes"),
    }


def export_sections(data: dict[str, object]) -> list[Section]:
    """The export as titled tables for the readable page."""
    titles = section_titles()
    sections = []
    for key, value in data.items():
        if key == "exported_at":
            continue
        items = value if isinstance(value, list) else [value]
        items = [item if isinstance(item, dict) else {"value": item} for item in items]
        columns = list(items[0]) if items else []
        rows = [[item.get(column) for column in columns] for item in items]
        sections.append(Section(key, titles.get(key, key), columns, rows))
    return sections
