from __future__ import annotations

import pytest
from django.core.management import call_command

from cases.models import OfferOutcome
from cases.offers import offer_report
from guidance.models import Offer, OfferResult
from guidance.offers import offer_rule_check


@pytest.mark.django_db
def test_seed_demo_adds_a_dozen_offers_with_a_history_of_outcomes(settings) -> None:
    settings.DEBUG = True
    call_command("seed_demo", customers=120)
    assert Offer.objects.count() >= 12
    assert all(offer_rule_check(o.rule) == "" for o in Offer.objects.all())
    assert Offer.objects.get(key="direct-debit").process_key == "direct-debit"
    outcomes = OfferOutcome.objects.count()
    assert OfferOutcome.objects.filter(result=OfferResult.ACCEPTED).exists()
    assert OfferOutcome.objects.filter(result=OfferResult.ELIGIBLE, control=True).exists()
    rows = {row.offer.key: row for row in offer_report()}
    assert rows["direct-debit"].presented > 0
    call_command("seed_demo", customers=120)
    assert OfferOutcome.objects.count() == outcomes
