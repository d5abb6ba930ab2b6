"""Guardrails, ranking, control group and uplift: pure functions over plain facts."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from guidance.models import OfferKind, OfferResult
from guidance.offers import (
    OfferCard,
    PastOutcome,
    Tally,
    blank_case,
    expected_acceptance,
    in_control_group,
    offer_rule_check,
    offers_rank,
    uplift,
)
from tests.factories import OfferFactory

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def card(offer_id: int = 1, **fields) -> OfferCard:
    values = {
        "id": offer_id,
        "key": f"o{offer_id}",
        "kind": OfferKind.SERVICE,
        "name": f"Offer {offer_id}",
        "pitch": "",
        "benefit": "saves money",
        "rule": "",
        "value_weight": 1.0,
        **fields,
    }
    return OfferCard(**values)


def facts(*, consent: bool = True, category: str = "", state: str = "", **customer) -> dict:
    return {
        "customer": {"segment": "private", "marketing_consent": consent, **customer},
        "holdings": [
            {"product": "DSL 100", "status": "active", "payment_method": "bank_transfer"},
        ],
        "case": {**blank_case(), "category": category, "state": state},
    }


def rank(offers, the_facts=None, history=(), tallies=None, **kwargs):
    return offers_rank(
        offers=offers,
        facts=the_facts or facts(),
        customer_id=42,
        history=history,
        tallies=tallies or {},
        now=NOW,
        **kwargs,
    )


def test_sales_offer_needs_marketing_consent_but_a_service_action_does_not() -> None:
    offers = [card(1, kind=OfferKind.SALES), card(2)]
    ranking = rank(offers, facts(consent=False))
    assert [r.offer.key for r in ranking.shown] == ["o2"]
    assert ranking.skipped == {"o1": "no marketing consent"}


@pytest.mark.parametrize(("category", "state"), [("complaint", "open"), ("billing", "escalated")])
def test_no_offer_during_a_complaint_or_escalation_unless_service_recovery(
    category: str, state: str
) -> None:
    offers = [card(1), card(2, service_recovery=True)]
    ranking = rank(offers, facts(category=category, state=state))
    assert [r.offer.key for r in ranking.shown] == ["o2"]
    assert ranking.skipped["o1"] == "complaint or escalation"


def test_never_offers_a_product_the_customer_holds() -> None:
    ranking = rank([card(1, product="dsl 100"), card(2, product="TV")])
    assert [r.offer.key for r in ranking.shown] == ["o2"]
    assert ranking.skipped["o1"] == "holds the product"


def test_cool_down_after_a_decline_then_offered_again() -> None:
    offer = card(1, cooldown_days=30)
    declined = [PastOutcome(1, OfferResult.DECLINED, NOW - timedelta(days=10))]
    assert rank([offer], history=declined).skipped == {"o1": "cool-down"}
    declined = [PastOutcome(1, OfferResult.DECLINED, NOW - timedelta(days=31))]
    assert rank([offer], history=declined).shown


def test_cap_on_presentations_per_period() -> None:
    offer = card(1, cap_count=2, cap_days=30)
    shown = [
        PastOutcome(1, OfferResult.PRESENTED, NOW - timedelta(days=5)),
        PastOutcome(1, OfferResult.PRESENTED, NOW - timedelta(days=3)),
    ]
    assert rank([offer], history=shown).skipped == {"o1": "cap"}
    older = [PastOutcome(1, OfferResult.PRESENTED, NOW - timedelta(days=40)), shown[1]]
    assert rank([offer], history=older).shown


def test_an_accepted_offer_is_not_shown_again_and_not_now_pauses_a_day() -> None:
    accepted = [PastOutcome(1, OfferResult.ACCEPTED, NOW - timedelta(days=400))]
    assert rank([card(1)], history=accepted).skipped == {"o1": "accepted before"}
    paused = [PastOutcome(1, OfferResult.NOT_NOW, NOW - timedelta(hours=2))]
    assert rank([card(1)], history=paused).skipped == {"o1": "not now"}


def test_validity_dates_and_channels() -> None:
    offers = [
        card(1, valid_until=date(2026, 11, 1)),
        card(2, valid_from=date(2026, 12, 1)),
        card(3, channels=("email",)),
        card(4, channels=("phone",)),
    ]
    ranking = rank(offers, channel="phone")
    assert [r.offer.key for r in ranking.shown] == ["o4"]
    assert ranking.skipped == {"o1": "expired", "o2": "not yet valid", "o3": "channel"}


def test_the_rule_decides_eligibility() -> None:
    transfer = 'holdings.exists(h, h.payment_method == "bank_transfer")'
    offers = [card(1, rule=transfer), card(2, rule='customer.segment == "premium"')]
    ranking = rank(offers)
    assert [r.offer.key for r in ranking.shown] == ["o1"]
    assert ranking.skipped == {"o2": "rule"}


def test_a_rule_failing_at_run_time_is_skipped_and_logged_without_personal_data(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = card(1, rule="customer.age > 30.0")  # the facts lack the age
    with caplog.at_level(logging.WARNING, logger="guidance.offers"):
        ranking = rank([broken, card(2)], facts(name="Anna Müller"))
    assert [r.offer.key for r in ranking.shown] == ["o2"]
    assert ranking.skipped == {"o1": "rule failed"}
    assert "o1" in caplog.text
    assert "Anna" not in caplog.text and "42" not in caplog.text


def test_ranks_by_value_weight_times_smoothed_acceptance_and_keeps_the_top_three() -> None:
    offers = [card(n, value_weight=w) for n, w in [(1, 1.0), (2, 2.0), (3, 1.0), (4, 1.0)]]
    tallies = {1: Tally(presented=10, accepted=9), 3: Tally(presented=20, accepted=0)}
    ranking = rank(offers, tallies=tallies)
    # o1: 1 x 10/14; o2: 2 x 1/4 (new, the prior); o4: 1 x 1/4; o3: 1 x 1/24
    assert [r.offer.key for r in ranking.shown] == ["o1", "o2", "o4"]
    assert ranking.shown[0].expected == pytest.approx(10 / 14)
    assert ranking.shown[0].reason == "saves money"
    assert "9 of 10 private customers" in ranking.shown[0].learned
    assert "New" in ranking.shown[1].learned


def test_expected_acceptance_is_the_beta_mean() -> None:
    assert expected_acceptance(Tally()) == pytest.approx(0.25)
    assert expected_acceptance(Tally(presented=96, accepted=49)) == pytest.approx(0.5)


def test_control_group_is_deterministic_and_about_the_configured_share() -> None:
    held = [in_control_group(customer, 7, 20) for customer in range(5000)]
    assert held == [in_control_group(customer, 7, 20) for customer in range(5000)]
    assert 0.18 < sum(held) / len(held) < 0.22
    assert not any(in_control_group(customer, 7, 0) for customer in range(100))


def test_a_held_out_customer_is_eligible_but_not_shown() -> None:
    customer = next(c for c in range(1000) if in_control_group(c, 1, 50))
    ranking = offers_rank(
        offers=[card(1, control_percent=50)],
        facts=facts(),
        customer_id=customer,
        history=[],
        tallies={},
        now=NOW,
    )
    assert ranking.shown == []
    assert [o.key for o in ranking.held_out] == ["o1"]
    assert [o.key for o in ranking.eligible] == ["o1"]


def test_uplift_with_a_95_percent_interval() -> None:
    result = uplift(30, 100, 10, 50)  # 30 % against 20 %
    assert result.difference == pytest.approx(0.10)
    error = (0.3 * 0.7 / 100 + 0.2 * 0.8 / 50) ** 0.5
    assert result.low == pytest.approx(0.10 - 1.96 * error)
    assert result.high == pytest.approx(0.10 + 1.96 * error)
    assert uplift(3, 10, 0, 0) is None


def test_rule_check_names_the_problem() -> None:
    assert offer_rule_check("") == ""
    assert offer_rule_check('customer.segment == "premium"') == ""
    assert "customer.colour" in offer_rule_check('customer.colour == "red"')
    assert "cannot be read" in offer_rule_check("customer.segment ==")


@pytest.mark.django_db
def test_an_offer_with_an_invalid_rule_is_refused_at_save_with_the_message() -> None:
    offer = OfferFactory.build(rule="holdings.exists(h, h.colour == 1")
    with pytest.raises(ValidationError) as error:
        offer.full_clean()
    assert "rule" in error.value.message_dict
    offer = OfferFactory.build(rule="customer.age > 30", channels=["phone"])
    offer.full_clean()
