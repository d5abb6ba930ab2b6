"""The facts rules may read, with typed sample values.

Callers (the case screen, the offers panel) pass facts of this shape; the samples let an
admin's rule be checked when it is saved. Grow this as the customer and case data grow.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from customers.models import Customer, Holding
from guidance.models import FieldType

FACT_SAMPLES: dict[str, Any] = {
    "customer": {
        "number": "K-100001",
        "name": "Anna Müller",
        "language": "de",
        "kind": "person",
        "segment": "standard",
        "status": "active",
        "vip": False,
        "preferred_channel": "email",
        "service_consent": True,
        "marketing_consent": False,
        "age": 40,
    },
    "holdings": [
        {
            "product": "DSL 100",
            "contract_number": "V-1",
            "status": "active",
            "monthly_fee": 29.99,
            "payment_method": "bank_transfer",
        }
    ],
    "case": {
        "reference": "C-2026-000001",
        "subject": "Rechnung",
        "state": "open",
        "type": "billing",
        "category": "question",
        "priority": 2,
        "channel": "phone",
    },
}

ANSWER_SAMPLES: dict[str, Any] = {
    FieldType.TEXT: "text",
    FieldType.LONG_TEXT: "text",
    FieldType.NUMBER: 1,
    FieldType.MONEY: 1.0,
    FieldType.DATE: "2026-01-01",
    FieldType.CHOICE: "choice",
    FieldType.YES_NO: True,
    FieldType.IBAN: "DE89370400440532013000",
    FieldType.EMAIL: "anna@example.de",
    FieldType.PHONE: "+4915123456789",
}


def answer_sample(field_type: str) -> Any:
    return ANSWER_SAMPLES.get(field_type, "")


def customer_facts(customer: Customer) -> dict[str, Any]:
    """The customer and their holdings as rules see them (two queries at most)."""
    holdings = Holding.objects.filter(customer_id=customer.pk).order_by("start", "id")[:50]
    return {
        "customer": {
            "number": customer.number,
            "name": customer.name,
            "language": customer.language,
            "kind": customer.kind,
            "segment": customer.segment,
            "status": customer.status,
            "vip": customer.segment == "premium",
            "preferred_channel": customer.preferred_channel,
            "service_consent": customer.consent_service,
            "marketing_consent": customer.consent_marketing,
            "age": customer_age(customer),
        },
        "holdings": [
            {
                "product": holding.product,
                "contract_number": holding.contract_number,
                "status": holding.status,
                "monthly_fee": float(holding.monthly_fee),
                "payment_method": holding.payment_method,
            }
            for holding in holdings
        ],
    }


def customer_age(customer: Customer) -> int:
    born = customer.date_of_birth
    if not born:
        return 0
    today = timezone.localdate()
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))
