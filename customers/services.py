"""Every write to the customers app goes through these functions."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F

from customers.models import BODY_MAX_LENGTH, Customer, Interaction, Language, Sequence


@transaction.atomic
def sequence_reserve(*, name: str, count: int) -> int:
    """Reserve `count` numbers of a named sequence and return the first.

    The UPDATE locks the row until the transaction ends, so concurrent writers never draw
    the same number.
    """
    Sequence.objects.get_or_create(name=name)
    Sequence.objects.filter(name=name).update(last=F("last") + count)
    return Sequence.objects.values_list("last", flat=True).get(name=name) - count + 1


def sequence_next(*, name: str) -> int:
    return sequence_reserve(name=name, count=1)


def customer_number(serial: int) -> str:
    return f"K-{serial + 100_000:06d}"


def customer_number_next() -> str:
    return customer_number(sequence_next(name="customer"))


def customer_create(*, name: str, language: str = Language.GERMAN, number: str = "") -> Customer:
    customer = Customer(name=name, language=language, number=number or customer_number_next())
    customer.full_clean()
    customer.save()
    return customer


def interaction_record(
    *,
    customer: Customer,
    channel: str,
    direction: str,
    occurred_at: datetime,
    subject: str = "",
    body: str = "",
    agent: AbstractBaseUser | None = None,
    case_reference: str = "",
) -> Interaction:
    """Record one contact on the customer's timeline. Customer text is cut to the size limit."""
    interaction = Interaction(
        customer=customer,
        channel=channel,
        direction=direction,
        occurred_at=occurred_at,
        subject=subject[:300],
        body=body.replace("\x00", "")[:BODY_MAX_LENGTH],
        agent=agent,
        case_reference=case_reference,
    )
    interaction.full_clean(exclude=["agent"])
    interaction.save()
    return interaction
