"""Master data is written only through customers.services, each change with who/old/new."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from customers import services
from customers.models import (
    Address,
    ChangeEntity,
    ContactKind,
    ContactPoint,
    CustomerChange,
    PaymentMethod,
)
from customers.selectors import customer_cockpit, timeline_page
from tests.factories import CustomerFactory, HoldingFactory


@pytest.mark.django_db
def test_adding_a_phone_stores_it_as_entered_and_as_e164_and_records_the_change(agent) -> None:
    customer = CustomerFactory()
    contact = services.contact_point_add(
        customer=customer, kind=ContactKind.MOBILE, value="0151 / 234 567 89", by=agent
    )
    assert contact.value == "0151 / 234 567 89"
    assert contact.normalised == "+4915123456789"
    assert contact.primary  # the first of its kind
    change = CustomerChange.objects.get(customer=customer)
    assert (change.entity, change.field, change.old, change.new, change.by) == (
        ChangeEntity.CONTACT_POINT,
        "value",
        "",
        "0151 / 234 567 89",
        agent,
    )
    assert change.field_label == "Mobile"


@pytest.mark.django_db
def test_an_active_value_belongs_to_one_customer_only(agent) -> None:
    first, second = CustomerFactory(), CustomerFactory()
    services.contact_point_add(
        customer=first, kind=ContactKind.EMAIL, value="Anna@Example.de", by=agent
    )
    with pytest.raises(ValidationError) as error:
        services.contact_point_add(
            customer=second, kind=ContactKind.EMAIL, value="anna@example.DE", by=agent
        )
    assert first.number in error.value.message_dict["value"][0]


@pytest.mark.django_db
def test_the_database_refuses_a_second_active_holder_of_a_value() -> None:
    first, second = CustomerFactory(), CustomerFactory()
    ContactPoint.objects.create(customer=first, kind="email", value="a@b.de", normalised="a@b.de")
    with pytest.raises(IntegrityError), transaction.atomic():
        ContactPoint.objects.create(
            customer=second, kind="email", value="a@b.de", normalised="a@b.de"
        )


@pytest.mark.django_db
def test_a_removed_value_is_free_for_another_customer(agent) -> None:
    first, second = CustomerFactory(), CustomerFactory()
    contact = services.contact_point_add(
        customer=first, kind=ContactKind.PHONE, value="030 1234567", by=agent
    )
    services.contact_point_remove(contact_point=contact, by=agent)
    again = services.contact_point_add(
        customer=second, kind=ContactKind.PHONE, value="+49 30 1234567", by=agent
    )
    assert again.normalised == contact.normalised
    assert customer_cockpit(customer=first).contact_points == []


@pytest.mark.django_db
def test_making_a_contact_primary_demotes_the_previous_primary(agent) -> None:
    customer = CustomerFactory()
    old = services.contact_point_add(
        customer=customer, kind=ContactKind.EMAIL, value="old@example.de", by=agent
    )
    new = services.contact_point_add(
        customer=customer, kind=ContactKind.EMAIL, value="new@example.de", by=agent, primary=True
    )
    old.refresh_from_db()
    assert new.primary and not old.primary


@pytest.mark.django_db
def test_changing_an_email_records_old_and_new_and_drops_verification(agent) -> None:
    customer = CustomerFactory()
    contact = services.contact_point_add(
        customer=customer, kind=ContactKind.EMAIL, value="old@example.de", by=agent, verified=True
    )
    services.contact_point_change(contact_point=contact, value="New@Example.de", by=agent)
    contact.refresh_from_db()
    assert (contact.normalised, contact.verified) == ("new@example.de", False)
    value_change = CustomerChange.objects.filter(field="value").latest("id")
    assert (value_change.old, value_change.new) == ("old@example.de", "New@Example.de")
    assert CustomerChange.objects.filter(field="verified").get().old == "True"


@pytest.mark.django_db
def test_a_new_address_ends_the_previous_one(agent) -> None:
    customer = CustomerFactory()
    moved_in = date(2024, 5, 1)
    first = services.address_change(
        customer=customer,
        street="Hauptstr. 5",
        postal_code="10115",
        city="Berlin",
        by=agent,
        valid_from=moved_in,
    )
    second = services.address_change(
        customer=customer, street="Ringstr. 1", postal_code="80331", city="München", by=agent
    )
    first.refresh_from_db()
    assert first.valid_until == timezone.localdate() - timedelta(days=1)
    assert customer_cockpit(customer=customer).address == second
    assert Address.objects.filter(customer=customer).count() == 2
    fields = set(CustomerChange.objects.filter(entity_id=second.pk).values_list("field", flat=True))
    assert fields == {"street", "postal_code", "city"}


@pytest.mark.django_db
def test_an_address_needs_a_valid_postal_code(agent) -> None:
    with pytest.raises(ValidationError) as error:
        services.address_change(
            customer=CustomerFactory(), street="Hauptstr. 5", postal_code="1011", city="X", by=agent
        )
    assert "five digits" in error.value.message_dict["postal_code"][0]


@pytest.mark.django_db
def test_a_direct_debit_needs_a_valid_iban(agent) -> None:
    holding = HoldingFactory()
    with pytest.raises(ValidationError) as error:
        services.holding_payment_change(
            holding=holding, payment_method=PaymentMethod.DIRECT_DEBIT, iban="", by=agent
        )
    assert "IBAN" in error.value.message_dict["iban"][0]
    with pytest.raises(ValidationError, match="check digits"):
        services.holding_payment_change(
            holding=holding,
            payment_method=PaymentMethod.DIRECT_DEBIT,
            iban="DE88 3704 0044 0532 0130 00",
            by=agent,
        )
    services.holding_payment_change(
        holding=holding,
        payment_method=PaymentMethod.DIRECT_DEBIT,
        iban="DE89 3704 0044 0532 0130 00",
        by=agent,
    )
    holding.refresh_from_db()
    assert holding.iban == "DE89370400440532013000"
    change = CustomerChange.objects.get(field="payment_method")
    assert (change.old_display, change.new_display) == ("Bank transfer", "Direct debit")


@pytest.mark.django_db
def test_the_timeline_merges_contacts_and_changes_newest_first_across_pages(agent) -> None:
    from tests.factories import InteractionFactory

    customer = CustomerFactory()
    now = timezone.now()
    InteractionFactory.create_batch(12, customer=customer, occurred_at=now)  # ties with changes
    InteractionFactory.create_batch(9, customer=customer)
    for n in range(14):
        services.customer_update(customer=customer, by=agent, name=f"Name {n}")
    CustomerChange.objects.filter(customer=customer).update(at=now)  # ties across both tables
    seen, cursor = [], ""
    while True:
        page = timeline_page(customer_id=customer.pk, cursor=cursor, size=5)
        seen.extend(page.entries)
        cursor = page.next_cursor
        if not cursor:
            break
    assert len(seen) == 35
    assert len({(type(e).__name__, e.pk) for e in seen}) == 35
    changes_only = timeline_page(customer_id=customer.pk, kind="changes", size=50)
    assert len(changes_only.entries) == 14
    assert all(isinstance(e, CustomerChange) for e in changes_only.entries)


@pytest.mark.django_db
def test_vip_and_transfer_flags_are_derived_from_the_holdings(agent) -> None:
    from decimal import Decimal

    customer = CustomerFactory(consent_service=True)
    HoldingFactory(customer=customer, monthly_fee=Decimal("60.00"))
    codes = [f.code for f in customer_cockpit(customer=customer).flags]
    assert codes == ["transfer"]
    HoldingFactory(customer=customer, monthly_fee=Decimal("40.00"))
    assert "vip" in [f.code for f in customer_cockpit(customer=customer).flags]
