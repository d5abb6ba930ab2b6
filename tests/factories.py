"""Test data. Factories are the one place besides the demo seed that sets a case state directly."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from cases.models import Case, CaseState
from customers.models import Channel, Customer, Direction, Interaction, Language


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
