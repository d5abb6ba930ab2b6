"""Next best actions: guardrails and ranking as pure functions (facts in, decisions out).

The caller (cases.offers) loads the catalog, the customer's facts, the customer's offer
history and the acceptance tallies of the customer's segment in a fixed number of queries;
everything here works on that plain data, so 50 offers cost no query at all.

Ranking: value weight x expected acceptance, where the expected acceptance is the mean of
a Beta prior updated with the outcomes recorded for this offer and segment. The prior
(1 accepted in 4) gives a new offer a fair chance against offers with a long history.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.utils.translation import gettext as _

from guidance.facts import FACT_SAMPLES
from guidance.models import Offer, OfferKind, OfferResult
from guidance.rules import (
    FactSchema,
    Prepared,
    RuleError,
    check_rule,
    evaluate_prepared_condition,
    prepare,
)

logger = logging.getLogger(__name__)

OFFER_SCHEMA = FactSchema({key: FACT_SAMPLES[key] for key in ("customer", "holdings", "case")})
PRIOR_ACCEPTED = 1.0
PRIOR_DECLINED = 3.0
NOT_NOW_PAUSE = timedelta(days=1)
PRESENTATIONS = {
    OfferResult.PRESENTED,
    OfferResult.ACCEPTED,
    OfferResult.DECLINED,
    OfferResult.NOT_NOW,
}
RECOVERY_CATEGORIES = {"complaint"}
RECOVERY_STATES = {"escalated"}
Z95 = 1.96


def offer_rule_check(text: str) -> str:
    """The reason an eligibility rule is refused, or "" when it may be saved."""
    if not text.strip():
        return ""
    try:
        check_rule(text, OFFER_SCHEMA)
    except RuleError as error:
        return str(error)
    return ""


def blank_case() -> dict[str, Any]:
    """The case facts when there is no case (the cockpit): every field, all empty."""
    return {key: 0 if isinstance(value, int) else "" for key, value in FACT_SAMPLES["case"].items()}


@dataclass(frozen=True)
class OfferCard:
    """An offer as plain data, in the user's language."""

    id: int
    key: str
    kind: str
    name: str
    pitch: str
    benefit: str
    rule: str
    value_weight: float
    valid_from: date | None = None
    valid_until: date | None = None
    channels: tuple[str, ...] = ()
    cooldown_days: int = 30
    cap_count: int = 3
    cap_days: int = 90
    service_recovery: bool = False
    product: str = ""
    process_key: str = ""
    control_percent: int = 0

    @classmethod
    def of(cls, offer: Offer) -> OfferCard:
        return cls(
            id=offer.pk,
            key=offer.key,
            kind=offer.kind,
            name=offer.name,
            pitch=offer.pitch,
            benefit=offer.benefit,
            rule=offer.rule,
            value_weight=float(offer.value_weight),
            valid_from=offer.valid_from,
            valid_until=offer.valid_until,
            channels=tuple(offer.channels or ()),
            cooldown_days=offer.cooldown_days,
            cap_count=offer.cap_count,
            cap_days=offer.cap_days,
            service_recovery=offer.service_recovery,
            product=offer.product,
            process_key=offer.process_key,
            control_percent=offer.control_percent,
        )


@dataclass(frozen=True)
class PastOutcome:
    """One recorded outcome of an offer for this customer."""

    offer_id: int
    result: str
    at: datetime
    control: bool = False


@dataclass(frozen=True)
class Tally:
    """Presentations and acceptances of one offer in one segment (control group excluded)."""

    presented: int = 0
    accepted: int = 0


@dataclass(frozen=True)
class Recommendation:
    offer: OfferCard
    score: float
    expected: float
    reason: str
    learned: str


@dataclass
class Ranking:
    shown: list[Recommendation] = field(default_factory=list)
    held_out: list[OfferCard] = field(default_factory=list)  # eligible, but control group
    skipped: dict[str, str] = field(default_factory=dict)  # offer key -> guardrail
    eligible: list[OfferCard] = field(default_factory=list)


def in_control_group(customer_id: int, offer_id: int, percent: int) -> bool:
    """Deterministic: the same customer is always in or out for the same offer."""
    if percent <= 0:
        return False
    digest = hashlib.sha256(f"cpm-offer:{customer_id}:{offer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10_000 < percent * 100


def expected_acceptance(tally: Tally) -> float:
    """The mean of the Beta prior updated with this offer's record in the segment."""
    return (PRIOR_ACCEPTED + tally.accepted) / (PRIOR_ACCEPTED + PRIOR_DECLINED + tally.presented)


def held_products(facts: Mapping[str, Any]) -> set[str]:
    return {
        str(h.get("product", "")).casefold()
        for h in facts.get("holdings", [])
        if h.get("status") in ("active", "pending")
    }


def guardrail(
    offer: OfferCard,
    facts: Mapping[str, Any],
    past: Sequence[PastOutcome],
    *,
    now: datetime,
    channel: str,
    products: set[str],
) -> str:
    """The guardrail that keeps the offer back, or "" when only the rule is left to check."""
    today = now.date()
    if offer.valid_from and today < offer.valid_from:
        return "not yet valid"
    if offer.valid_until and today > offer.valid_until:
        return "expired"
    if channel and offer.channels and channel not in offer.channels:
        return "channel"
    customer = facts.get("customer", {})
    if offer.kind == OfferKind.SALES and not customer.get("marketing_consent"):
        return "no marketing consent"
    case = facts.get("case") or {}
    troubled = case.get("category") in RECOVERY_CATEGORIES or case.get("state") in RECOVERY_STATES
    if troubled and not offer.service_recovery:
        return "complaint or escalation"
    if offer.product and offer.product.casefold() in products:
        return "holds the product"
    return history_guardrail(offer, past, now=now)


def history_guardrail(offer: OfferCard, past: Sequence[PastOutcome], *, now: datetime) -> str:
    if any(o.result == OfferResult.ACCEPTED for o in past):
        return "accepted before"
    declines = [o.at for o in past if o.result == OfferResult.DECLINED]
    if declines and max(declines) > now - timedelta(days=offer.cooldown_days):
        return "cool-down"
    pauses = [o.at for o in past if o.result == OfferResult.NOT_NOW]
    if pauses and max(pauses) > now - NOT_NOW_PAUSE:
        return "not now"
    window = now - timedelta(days=offer.cap_days)
    shown = sum(1 for o in past if o.result in PRESENTATIONS and o.at > window)
    if shown >= offer.cap_count:
        return "cap"
    return ""


def rule_holds(offer: OfferCard, prepared: Prepared, known: dict[str, bool | None]) -> bool | None:
    """The eligibility rule; None when it fails at run time (logged, no personal data).

    `known` remembers each rule text's result over these facts: offers sharing a rule
    are evaluated once.
    """
    text = offer.rule.strip()
    if not text:
        return True
    if text not in known:
        try:
            known[text] = evaluate_prepared_condition(text, prepared)
        except RuleError:
            known[text] = None
    if known[text] is None:
        logger.warning("Offer %s skipped: its rule failed at run time.", offer.key)
    return known[text]


def offers_rank(
    *,
    offers: Iterable[OfferCard],
    facts: Mapping[str, Any],
    customer_id: int,
    history: Iterable[PastOutcome],
    tallies: Mapping[int, Tally],
    now: datetime,
    channel: str = "",
    limit: int = 3,
    rule_results: dict[str, bool | None] | None = None,
) -> Ranking:
    """Apply the guardrails and the rules, hold out the control group, rank the rest.

    `rule_results` (rule text -> result over these same facts) is read and filled in, so a
    caller may keep it between calls for unchanged facts. The facts are prepared once per
    call, and each distinct rule text is evaluated once (a compiled closure, see
    guidance/rule_closures.py).
    """
    by_offer: dict[int, list[PastOutcome]] = {}
    for outcome in history:
        by_offer.setdefault(outcome.offer_id, []).append(outcome)
    products = held_products(facts)
    segment = str(facts.get("customer", {}).get("segment", ""))
    ranking = Ranking()
    candidates = []
    prepared: Prepared | None = None  # made once, when the first rule needs it
    known = {} if rule_results is None else rule_results
    for offer in offers:
        past = by_offer.get(offer.id, [])
        why = guardrail(offer, facts, past, now=now, channel=channel, products=products)
        if not why:
            if prepared is None:
                prepared = prepare(facts)
            holds = rule_holds(offer, prepared, known)
            why = "rule failed" if holds is None else "" if holds else "rule"
        if why:
            ranking.skipped[offer.key] = why
            continue
        ranking.eligible.append(offer)
        if in_control_group(customer_id, offer.id, offer.control_percent):
            ranking.held_out.append(offer)
            continue
        tally = tallies.get(offer.id, Tally())
        expected = expected_acceptance(tally)
        candidates.append(
            Recommendation(
                offer=offer,
                score=offer.value_weight * expected,
                expected=expected,
                reason=offer.benefit,
                learned=learned_text(tally, expected, segment),
            )
        )
    candidates.sort(key=lambda r: (-r.score, r.offer.key))
    ranking.shown = candidates[:limit]
    return ranking


def learned_text(tally: Tally, expected: float, segment: str) -> str:
    if not tally.presented:
        return _("New: no outcomes yet, expected acceptance %(rate)s %%.") % {
            "rate": round(expected * 100)
        }
    return _(
        "Accepted by %(accepted)s of %(presented)s %(segment)s customers; "
        "expected acceptance %(rate)s %%."
    ) % {
        "accepted": tally.accepted,
        "presented": tally.presented,
        "segment": segment,
        "rate": round(expected * 100),
    }


@dataclass(frozen=True)
class Uplift:
    """Conversion with the offer minus without it (control), with a 95 % interval."""

    difference: float
    low: float
    high: float


def uplift(converted: int, exposed: int, control_converted: int, control: int) -> Uplift | None:
    """Difference of two proportions with the normal (Wald) interval; None without data."""
    if exposed == 0 or control == 0:
        return None
    p1, p0 = converted / exposed, control_converted / control
    error = math.sqrt(p1 * (1 - p1) / exposed + p0 * (1 - p0) / control)
    difference = p1 - p0
    return Uplift(difference, difference - Z95 * error, difference + Z95 * error)
