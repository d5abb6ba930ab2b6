"""Test data. Factories are the one place besides the demo seed that sets a case state directly."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from cases.models import Case, CaseState
from customers.models import (
    Address,
    Channel,
    ContactKind,
    ContactPoint,
    Customer,
    Direction,
    Holding,
    Interaction,
    Language,
    PaymentMethod,
)
from guidance.models import Offer, OfferKind


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    number = factory.Sequence(lambda n: f"K-{500_000 + n:06d}")
    name = factory.Faker("name", locale="de_DE")
    language = Language.GERMAN


class InteractionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Interaction

    customer = factory.SubFactory(CustomerFactory)
    channel = Channel.EMAIL
    direction = Direction.INBOUND
    occurred_at = factory.Sequence(lambda n: timezone.now() - timedelta(minutes=n))
    subject = "Rechnung falsch"
    body = "Meine Rechnung ist zu hoch."


class CaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Case

    reference = factory.Sequence(lambda n: f"C-2026-{700_000 + n:06d}")
    customer = factory.SubFactory(CustomerFactory)
    subject = "Billing question"
    state = CaseState.NEW


class ContactPointFactory(factory.django.DjangoModelFactory):
    """A mobile number by default; give `kind`, `value` and `normalised` for others."""

    class Meta:
        model = ContactPoint

    customer = factory.SubFactory(CustomerFactory)
    kind = ContactKind.MOBILE
    value = factory.Sequence(lambda n: f"0151 {n:08d}")
    normalised = factory.Sequence(lambda n: f"+49151{n:08d}")
    primary = True


class AddressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Address

    customer = factory.SubFactory(CustomerFactory)
    street = "Hauptstraße 5"
    postal_code = "10115"
    city = "Berlin"
    valid_from = date(2020, 1, 1)


class HoldingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Holding

    customer = factory.SubFactory(CustomerFactory)
    product = "DSL 100"
    contract_number = factory.Sequence(lambda n: f"V-{800_000 + n}")
    start = date(2022, 3, 1)
    monthly_fee = Decimal("29.99")
    payment_method = PaymentMethod.BANK_TRANSFER


class OfferFactory(factory.django.DjangoModelFactory):
    """A service action for everyone by default; give `kind`, `rule` ... for others."""

    class Meta:
        model = Offer

    key = factory.Sequence(lambda n: f"offer-{n}")
    kind = OfferKind.SERVICE
    name_de = factory.Sequence(lambda n: f"Angebot {n}")
    name_en = factory.Sequence(lambda n: f"Offer {n}")
    benefit_en = "Saves money"
    value_weight = Decimal("1.00")
