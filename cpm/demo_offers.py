"""Demo offers and service actions, with a history of outcomes for the ranking and report.

The history is drawn for the first customers, deterministically, and only where the offer's
guardrails and rule allow it, so the report's numbers are ones the desk could have made.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from cases.models import OfferOutcome
from customers.connectors import ConnectorAction
from customers.models import Customer
from guidance.facts import customer_facts
from guidance.models import DeclineReason, Offer, OfferKind, OfferResult
from guidance.offers import OfferCard, blank_case, guardrail, held_products, in_control_group
from guidance.rules import RuleError, evaluate_prepared_condition, prepare

SEED = 20261125
HISTORY_CUSTOMERS = 1500
TRANSFER = 'holdings.exists(h, h.payment_method == "bank_transfer" && h.status == "active")'
S, V = OfferKind.SALES, OfferKind.SERVICE
# key, kind, (name de, en), (benefit de, en), rule, weight, product, process, control %,
# service recovery, (acceptance shown, acceptance held out)
DEMO_OFFERS = [
    (
        "direct-debit",
        V,
        ("Auf Lastschrift umstellen", "Switch to direct debit"),
        (
            "zahlt per Überweisung; Lastschrift spart 1,50 € je Rechnung",
            "pays by bank transfer; direct debit saves 1.50 EUR a month per invoice",
        ),
        TRANSFER,
        "3.00",
        "",
        "direct-debit",
        10,
        False,
        (0.45, 0.08),
    ),
    (
        "online-invoice",
        V,
        ("Online-Rechnung statt Papier", "Online invoice instead of paper"),
        (
            "bekommt Papierrechnungen; online spart 2,50 € Porto im Monat",
            "gets paper invoices; online saves 2.50 EUR postage a month",
        ),
        'holdings.exists(h, h.payment_method == "invoice")',
        "1.50",
        "",
        "",
        10,
        False,
        (0.35, 0.05),
    ),
    (
        "add-email",
        V,
        ("E-Mail-Adresse ergänzen", "Add an e-mail address"),
        (
            "bevorzugt Brief; per E-Mail kommen Rechnungen schneller",
            "prefers letters; invoices arrive faster by e-mail",
        ),
        'customer.preferred_channel == "letter"',
        "1.00",
        "",
        "",
        0,
        True,
        (0.6, 0.0),
    ),
    (
        "verify-phone",
        V,
        ("Mobilnummer bestätigen", "Verify the mobile number"),
        (
            "schreibt per SMS; eine bestätigte Nummer schützt das Konto",
            "contacts us by SMS; a verified number protects the account",
        ),
        'customer.preferred_channel == "sms"',
        "0.80",
        "",
        "",
        0,
        True,
        (0.7, 0.0),
    ),
    (
        "dsl-250",
        S,
        ("Upgrade auf DSL 250", "Upgrade to DSL 250"),
        (
            "hat DSL 100; 2,5-fache Geschwindigkeit für 10 € mehr",
            "has DSL 100; 2.5 times the speed for 10 EUR more",
        ),
        'holdings.exists(h, h.product == "DSL 100" && h.status == "active")',
        "4.00",
        "DSL 250",
        "",
        20,
        False,
        (0.18, 0.04),
    ),
    (
        "fibre-1000",
        S,
        ("Glasfaser 1000", "Fibre 1000"),
        (
            "hat DSL 250; Glasfaser ist an der Adresse verfügbar",
            "has DSL 250; fibre is available at the address",
        ),
        'holdings.exists(h, h.product == "DSL 250" && h.status == "active")',
        "6.00",
        "Glasfaser 1000",
        "",
        20,
        False,
        (0.12, 0.03),
    ),
    (
        "mobile-m",
        S,
        ("Mobil M dazu", "Add Mobile M"),
        (
            "hat Internet, aber keinen Mobilvertrag; 5 € Kombirabatt",
            "has internet but no mobile contract; 5 EUR bundle discount",
        ),
        'holdings.exists(h, h.product.startsWith("DSL") || h.product.startsWith("Glasfaser"))',
        "3.00",
        "Mobil M",
        "",
        20,
        False,
        (0.15, 0.05),
    ),
    (
        "mobile-l",
        S,
        ("Upgrade auf Mobil L", "Upgrade to Mobile L"),
        (
            "hat Mobil M; doppeltes Datenvolumen",
            "has Mobile M; twice the data volume",
        ),
        'holdings.exists(h, h.product == "Mobil M" && h.status == "active")',
        "2.50",
        "Mobil L",
        "",
        20,
        False,
        (0.2, 0.06),
    ),
    (
        "tv-basis",
        S,
        ("TV Basis dazu", "Add TV Basis"),
        ("3 Monate gratis testen", "three months free to try"),
        "size(holdings) >= 1",
        "2.00",
        "TV Basis",
        "",
        20,
        False,
        (0.1, 0.02),
    ),
    (
        "device-cover",
        S,
        ("Geräteschutz", "Device cover"),
        (
            "hat einen Mobilvertrag; Schutz bei Bruch und Diebstahl",
            "has a mobile contract; cover for breakage and theft",
        ),
        'holdings.exists(h, h.product.startsWith("Mobil"))',
        "2.50",
        "Geräteschutz",
        "",
        20,
        False,
        (0.1, 0.01),
    ),
    (
        "longer-contract",
        S,
        ("24 Monate mit 5 % Rabatt", "24 months at 5 % off"),
        (
            "zahlt über 30 € im Monat; spart mit längerer Laufzeit",
            "pays over 30 EUR a month; saves with a longer term",
        ),
        "holdings.exists(h, h.monthly_fee > 30)",
        "3.50",
        "",
        "",
        20,
        False,
        (0.14, 0.03),
    ),
    (
        "goodwill-month",
        V,
        ("Kulanz: ein Monat TV gratis", "Goodwill: a month of TV free"),
        (
            "hat sich beschwert; ein kleines Dankeschön stellt Vertrauen wieder her",
            "has complained; a small thank-you restores trust",
        ),
        'case.category == "complaint"',
        "2.00",
        "",
        "",
        0,
        True,
        (0.8, 0.0),
    ),
    (
        "premium-hotline",
        S,
        ("Premium-Hotline", "Premium hotline"),
        (
            "Premium-Kunde; direkte Durchwahl ohne Warteschleife",
            "premium customer; a direct line with no waiting",
        ),
        "customer.vip",
        "2.00",
        "",
        "",
        20,
        False,
        (0.3, 0.1),
    ),
]


def demo_offers_ensure() -> list[str]:
    """Create the demo offers that are not there yet; returns their keys."""
    created = []
    for (
        key, kind, (name_de, name_en), (benefit_de, benefit_en), rule, weight, product,
        process, control, recovery, _rates,
    ) in DEMO_OFFERS:  # fmt: skip
        _offer, new = Offer.objects.get_or_create(
            key=key,
            defaults={
                "kind": kind,
                "name_de": name_de,
                "name_en": name_en,
                "benefit_de": benefit_de,
                "benefit_en": benefit_en,
                "pitch_de": f"{name_de}: {benefit_de}.",
                "pitch_en": f"{name_en}: {benefit_en}.",
                "rule": rule,
                "value_weight": Decimal(weight),
                "product": product,
                "process_key": process,
                # A product without a process is booked in the back office on acceptance.
                "connector_action": ConnectorAction.BOOK_ADDON if product and not process else "",
                "control_percent": control,
                "service_recovery": recovery,
                "cooldown_days": 60,
                "cap_count": 3,
                "cap_days": 90,
            },
        )
        if new:
            created.append(key)
    return created


@transaction.atomic
def demo_offer_history_ensure(*, now: datetime | None = None) -> int:
    """Outcomes over the last months for the first customers; once. Returns how many."""
    if OfferOutcome.objects.exists():
        return 0
    now = now or timezone.now()
    rates = {row[0]: row[-1] for row in DEMO_OFFERS}
    offers = [(o, OfferCard.of(o)) for o in Offer.objects.filter(key__in=rates)]
    customers = Customer.objects.order_by("pk")
    rows = []
    for customer in customers[:HISTORY_CUSTOMERS]:
        rng = random.Random(SEED + customer.pk)
        facts = {**customer_facts(customer), "case": blank_case()}
        products = held_products(facts)
        prepared = prepare(facts)
        for offer, card in offers:
            if guardrail(card, facts, [], now=now, channel="", products=products):
                continue
            try:
                if card.rule and not evaluate_prepared_condition(card.rule, prepared):
                    continue
            except RuleError:
                continue
            rows.extend(outcomes_draw(customer, offer, card, rates[offer.key], rng, now))
    OfferOutcome.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def outcomes_draw(
    customer: Customer,
    offer: Offer,
    card: OfferCard,
    rates: tuple[float, float],
    rng: random.Random,
    now: datetime,
) -> list[OfferOutcome]:
    if rng.random() < 0.4:  # not every eligible customer has called since
        return []
    control = in_control_group(customer.pk, offer.pk, card.control_percent)
    at = now - timedelta(days=rng.randint(70, 200), minutes=rng.randint(0, 600))

    def row(result: str, when: datetime, reason: str = "") -> OfferOutcome:
        return OfferOutcome(
            customer=customer,
            offer=offer,
            result=result,
            decline_reason=reason,
            segment=customer.segment,
            control=control,
            at=when,
        )

    rows = [row(OfferResult.ELIGIBLE, at)]
    shown, held_out = rates
    if control:
        if rng.random() < held_out:  # did it anyway, e.g. switched on the website
            rows.append(row(OfferResult.ACCEPTED, at + timedelta(days=rng.randint(1, 30))))
        return rows
    if rng.random() < shown:
        rows.append(row(OfferResult.ACCEPTED, at + timedelta(minutes=2)))
    elif rng.random() < 0.6:
        reason = rng.choice(DeclineReason.values)
        rows.append(row(OfferResult.DECLINED, at + timedelta(minutes=2), reason))
    else:
        rows.append(row(OfferResult.NOT_NOW, at + timedelta(minutes=2)))
    return rows
