"""Next best actions on the desk: the offers panel, recording outcomes, the uplift report.

Guidance decides (guardrails, rules, ranking: guidance.offers); this module loads what it
needs in a fixed number of queries, records what the agent answers, and starts the offer's
guided process when the customer accepts.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django_q.tasks import async_task

from cases.guided import case_facts, case_note, run_start
from cases.models import FINISHED_RUN_STATUSES, Case, GuidedRun, OfferOutcome
from cases.services import CaseActionError, case_create, exception_raise
from customers.connectors import BackOfficeActionFailed
from customers.models import Customer, EventKind
from customers.services import back_office_action, customer_event_record
from guidance.facts import customer_facts
from guidance.models import DeclineReason, Offer, OfferResult
from guidance.offers import (
    PRESENTATIONS,
    OfferCard,
    PastOutcome,
    Ranking,
    Tally,
    Uplift,
    blank_case,
    offers_rank,
    uplift,
)
from guidance.selectors import published_version

TALLY_SECONDS = 300
RULES_SECONDS = 600  # the learned rates move slowly; a few minutes old is fine
HISTORY_LIMIT = 2000
AGENT_RESULTS = [r for r in OfferResult if r in PRESENTATIONS]
ACTION_TASK = "cases.tasks.perform_offer_action"
ACTION_SOURCE = "offer-action"
# Every answer to an offer shows on the customer's timeline (customers.CustomerEvent).
TIMELINE_KINDS = {
    OfferResult.PRESENTED: EventKind.OFFER_PRESENTED,
    OfferResult.ACCEPTED: EventKind.OFFER_ACCEPTED,
    OfferResult.DECLINED: EventKind.OFFER_DECLINED,
    OfferResult.NOT_NOW: EventKind.OFFER_NOT_NOW,
}


class OfferRefused(CaseActionError):
    """An outcome that cannot be recorded; the message is for the agent."""


@dataclass(frozen=True)
class OffersPanel:
    customer: Customer
    case: Case | None
    ranking: Ranking


def offer_facts(customer: Customer, case: Case | None) -> dict[str, Any]:
    """The facts an eligibility rule reads: customer, holdings and (if any) the case."""
    if case is not None:
        facts = case_facts(case, {})
        facts.pop("answers")
        return facts
    return {**customer_facts(customer), "case": blank_case()}


def offer_cards() -> list[OfferCard]:
    return [OfferCard.of(offer) for offer in Offer.objects.active()]


def customer_history(customer: Customer) -> list[PastOutcome]:
    rows = OfferOutcome.objects.filter(customer_id=customer.pk).values_list(
        "offer_id", "result", "at", "control"
    )
    return [PastOutcome(*row) for row in rows.order_by("-at")[:HISTORY_LIMIT]]


def segment_tallies(segment: str) -> dict[int, Tally]:
    """Presentations and acceptances per offer in the segment, without the control group."""
    key = f"cases:offer-tallies:{segment}"
    tallies = cache.get(key)
    if tallies is None:
        rows = (
            OfferOutcome.objects.filter(segment=segment, control=False, result__in=PRESENTATIONS)
            .values("offer_id")
            .annotate(
                presented=Count("id"), accepted=Count("id", filter=Q(result=OfferResult.ACCEPTED))
            )
        )
        tallies = {r["offer_id"]: Tally(r["presented"], r["accepted"]) for r in rows}
        cache.set(key, tallies, TALLY_SECONDS)
    return tallies


def offers_panel(
    *, customer: Customer, case: Case | None = None, now: datetime | None = None, channel: str = ""
) -> OffersPanel:
    """The top offers for this customer now; notes each newly eligible offer once.

    Queries: the catalog, the holdings (or the case's), the customer's history, the
    segment's tallies (cached), and one insert when an offer became eligible: never one
    per offer.
    """
    now = now or timezone.now()
    history = customer_history(customer)
    facts = offer_facts(customer, case)
    # Rule results keyed by a digest of the facts: only booleans are cached, no personal data.
    digest = hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()
    key = f"cases:offer-rules:{digest}"
    known = cache.get(key) or {}
    size = len(known)
    ranking = offers_rank(
        offers=offer_cards(),
        facts=facts,
        customer_id=customer.pk,
        history=history,
        tallies=segment_tallies(customer.segment),
        now=now,
        channel=channel,
        rule_results=known,
    )
    if len(known) != size:
        cache.set(key, known, RULES_SECONDS)
    eligible_noted(customer, ranking, history, now)
    return OffersPanel(customer=customer, case=case, ranking=ranking)


def eligible_noted(
    customer: Customer, ranking: Ranking, history: list[PastOutcome], now: datetime
) -> None:
    """Note once per customer and offer that it was eligible, in its group (the denominator)."""
    noted = {o.offer_id for o in history if o.result == OfferResult.ELIGIBLE}
    held = {o.id for o in ranking.held_out}
    OfferOutcome.objects.bulk_create(
        OfferOutcome(
            customer=customer,
            offer_id=offer.id,
            result=OfferResult.ELIGIBLE,
            segment=customer.segment,
            control=offer.id in held,
            at=now,
        )
        for offer in ranking.eligible
        if offer.id not in noted
    )


@dataclass(frozen=True)
class OutcomeRecorded:
    outcome: OfferOutcome
    case: Case | None  # the case the offer's process runs on, if one was started
    created_case: bool
    message: str


@transaction.atomic
def offer_outcome_record(
    *,
    customer: Customer,
    offer: Offer,
    result: str,
    by: AbstractBaseUser,
    case: Case | None = None,
    decline_reason: str = "",
) -> OutcomeRecorded:
    """Record the agent's answer (also on the customer's timeline); an acceptance starts
    the offer's process, if it has one.

    On a case the process runs on that case; in the cockpit a new case is opened for it.
    """
    if result not in AGENT_RESULTS:
        raise OfferRefused(_("Choose what the customer said."))
    if result == OfferResult.DECLINED and decline_reason not in DeclineReason.values:
        raise OfferRefused(_("Choose why the customer declined."))
    if result != OfferResult.DECLINED:
        decline_reason = ""
    outcome = OfferOutcome.objects.create(
        customer=customer,
        offer=offer,
        case=case,
        result=result,
        decline_reason=decline_reason,
        segment=customer.segment,
        by=by,
    )
    label = OfferResult(result).label
    customer_event_record(
        customer=customer,
        kind=TIMELINE_KINDS[result],
        subject=offer.name,
        detail=str(DeclineReason(decline_reason).label) if decline_reason else "",
        case_reference=case.reference if case is not None else "",
        by=by,
        at=outcome.at,
    )
    if case is not None:
        note = _("Offer “%(name)s”: %(result)s.") % {"name": offer.name, "result": label}
        case_note(case, by, note)
    if result == OfferResult.ACCEPTED and offer.connector_action:
        # After commit, in the worker: never an HTTP call inside the transaction.
        transaction.on_commit(lambda: async_task(ACTION_TASK, outcome.pk))
    if result != OfferResult.ACCEPTED or not offer.process_key:
        return OutcomeRecorded(outcome, None, False, "")
    return process_start(outcome, offer, case, by)


def offer_action_perform(*, pk: int) -> str:
    """Do the accepted offer's back-office action once; a failure goes to the exception
    queue with the reason, so a supervisor sees that it must be done by hand.

    Returns the back office's reference, "" when it failed. Idempotent: a retried task
    finds the reference and does nothing twice.
    """
    outcome = OfferOutcome.objects.select_related("offer", "customer", "case", "by").get(pk=pk)
    offer = outcome.offer
    if outcome.action_reference or not offer.connector_action:
        return outcome.action_reference
    try:
        reference = back_office_action(
            customer=outcome.customer,
            action=offer.connector_action,
            value=offer.connector_action_value,
            subject=offer.name,
            by=outcome.by,
        )
    except BackOfficeActionFailed as error:
        reason = _(
            "Customer %(number)s accepted “%(offer)s”, but the back office did not do it "
            "(%(action)s: %(why)s). Do it by hand."
        ) % {
            "number": outcome.customer.number,
            "offer": offer.name,
            "action": offer.get_connector_action_display(),
            "why": str(error),
        }
        exception_raise(source=ACTION_SOURCE, reason=reason, case=outcome.case)
        return ""
    OfferOutcome.objects.filter(pk=pk).update(action_reference=reference)
    return reference


def process_start(
    outcome: OfferOutcome, offer: Offer, case: Case | None, by: AbstractBaseUser
) -> OutcomeRecorded:
    version = published_version(process_key=offer.process_key)
    if version is None:
        message = _("The process “%(key)s” is not published; do it by hand.") % {
            "key": offer.process_key
        }
        return OutcomeRecorded(outcome, None, False, message)
    created = case is None
    if case is None:
        case = case_create(customer=outcome.customer, subject=offer.name[:200], by=by, assignee=by)
        outcome.case = case
        outcome.save(update_fields=["case"])
    elif GuidedRun.objects.filter(case=case).exclude(status__in=FINISHED_RUN_STATUSES).exists():
        message = _("A process already runs on this case; start “%(name)s” when it is done.") % {
            "name": offer.name
        }
        return OutcomeRecorded(outcome, None, False, message)
    run_start(case=case, version=version, by=by)
    return OutcomeRecorded(outcome, case, created, "")


def access_offer_by_id(*, pk: int) -> Offer | None:
    return Offer.objects.active().filter(pk=pk).first()


# --- the report ---------------------------------------------------------------------


@dataclass(frozen=True)
class ReportRow:
    offer: Offer
    eligible: int  # customers, both groups
    control: int  # of them held out
    presented: int
    accepted: int
    control_accepted: int
    acceptance_rate: float | None  # accepted / presented
    uplift: Uplift | None  # conversion of the eligible shown minus of the held out

    @property
    def acceptance_percent(self) -> float | None:
        return None if self.acceptance_rate is None else self.acceptance_rate * 100

    @property
    def uplift_points(self) -> tuple[float, float, float] | None:
        """The uplift and its interval in percentage points."""
        if self.uplift is None:
            return None
        return (self.uplift.difference * 100, self.uplift.low * 100, self.uplift.high * 100)

    @property
    def uplift_chart(self) -> dict[str, float] | None:
        """x positions (0 to 200) of the interval and the point on a -100 to +100 pp scale,
        for the report's small chart."""
        points = self.uplift_points
        if points is None:
            return None
        x = [round(max(-100.0, min(100.0, value)) + 100, 1) for value in points]
        return {"point": x[0], "low": x[1], "high": x[2], "width": round(x[2] - x[1], 1)}


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def offer_report() -> list[ReportRow]:
    """Per offer, counted in customers: one aggregate query over all outcomes."""
    treated, held = Q(control=False), Q(control=True)
    customers = "customer_id"
    counts = {
        row["offer_id"]: row
        for row in OfferOutcome.objects.values("offer_id").annotate(
            eligible_treated=Count(customers, distinct=True, filter=treated & Q(result="eligible")),
            eligible_control=Count(customers, distinct=True, filter=held & Q(result="eligible")),
            presented=Count(customers, distinct=True, filter=treated & Q(result__in=PRESENTATIONS)),
            accepted=Count(customers, distinct=True, filter=treated & Q(result="accepted")),
            control_accepted=Count(customers, distinct=True, filter=held & Q(result="accepted")),
        )
    }
    rows = []
    for offer in Offer.objects.all():
        c = counts.get(offer.pk, {})
        treated_n, control_n = c.get("eligible_treated", 0), c.get("eligible_control", 0)
        accepted, control_accepted = c.get("accepted", 0), c.get("control_accepted", 0)
        rows.append(
            ReportRow(
                offer=offer,
                eligible=treated_n + control_n,
                control=control_n,
                presented=c.get("presented", 0),
                accepted=accepted,
                control_accepted=control_accepted,
                acceptance_rate=rate(accepted, c.get("presented", 0)),
                uplift=uplift(accepted, treated_n, control_accepted, control_n),
            )
        )
    return rows


# --- the catalog (admins) -------------------------------------------------------------


@dataclass(frozen=True)
class CatalogRow:
    offer: Offer
    presented: int  # presentations, control group excluded (as the ranking counts them)
    accepted: int


def offer_catalog() -> list[CatalogRow]:
    """Every offer, active or not, with its presented and accepted counts: two queries."""
    counts = {
        row["offer_id"]: row
        for row in OfferOutcome.objects.filter(control=False)
        .values("offer_id")
        .annotate(
            presented=Count("id", filter=Q(result__in=PRESENTATIONS)),
            accepted=Count("id", filter=Q(result=OfferResult.ACCEPTED)),
        )
    }
    return [
        CatalogRow(
            offer=offer,
            presented=counts.get(offer.pk, {}).get("presented", 0),
            accepted=counts.get(offer.pk, {}).get("accepted", 0),
        )
        for offer in Offer.objects.order_by("-active", "kind", "key")
    ]
