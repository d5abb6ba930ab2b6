from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db.models import Count

from customers import identity
from customers.models import (
    Address,
    ContactPoint,
    Customer,
    CustomerChange,
    Holding,
    PaymentMethod,
)
from customers.services import contact_normalise, payment_validate


@pytest.mark.django_db
def test_demo_customers_have_contacts_addresses_and_holdings_that_pass_validation(
    settings,
) -> None:
    settings.DEBUG = True
    call_command("seed_demo", customers=120)
    kinds = set(ContactPoint.objects.values_list("kind", flat=True))
    assert {"phone", "mobile", "email", "social", "messenger"} <= kinds
    for contact in ContactPoint.objects.all():
        normalised = contact_normalise(
            kind=contact.kind, value=contact.value, network=contact.network
        )
        assert normalised == contact.normalised
    assert Address.objects.current().count() == Customer.objects.count()
    for address in Address.objects.all():
        identity.postal_code_normalise(address.postal_code, country=address.country)
    methods = set(Holding.objects.values_list("payment_method", flat=True))
    assert {PaymentMethod.DIRECT_DEBIT, PaymentMethod.BANK_TRANSFER} <= methods
    for holding in Holding.objects.all():
        assert payment_validate(payment_method=holding.payment_method, iban=holding.iban) == (
            holding.iban
        )
    assert CustomerChange.objects.filter(entity="address").exists()


@pytest.mark.django_db
def test_demo_has_duplicate_looking_customers_sharing_birth_date_and_phone(settings) -> None:
    settings.DEBUG = True
    call_command("seed_demo", customers=120)
    shared = (
        ContactPoint.objects.filter(kind__in=["phone", "mobile"])
        .values("normalised")
        .annotate(n=Count("customer", distinct=True))
        .filter(n__gt=1)
    )
    assert shared.count() >= 2
    pair = list(
        Customer.objects.filter(contact_points__normalised=shared[0]["normalised"]).distinct()
    )
    assert pair[0].date_of_birth == pair[1].date_of_birth
