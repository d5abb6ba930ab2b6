"""The facts rules may read, with typed sample values.

Callers (the case screen, the offers panel) pass facts of this shape; the samples let an
admin's rule be checked when it is saved. Grow this as the customer and case data grow.
"""

from __future__ import annotations

from typing import Any

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
