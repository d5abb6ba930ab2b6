"""The cases app's part in merging, erasing and exporting a customer.

Called by the receivers in `cases.receivers`, inside the customers service's transaction
(see `customers.signals`): `customers` must not import `cases`, so it asks by signal.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from cases.models import (
    Case,
    CaseEvent,
    CaseMerge,
    ExceptionItem,
    GuidedRun,
    GuidedStepRecord,
    InboundMessage,
    OutboundMessage,
)
from customers.models import Customer

ERASED_TEXT = "—"
MODELS = [Case, CaseEvent, GuidedRun, InboundMessage, OutboundMessage]


def label(model: type) -> str:
    return model._meta.label_lower


def customer_cases_move(*, source: Customer, target: Customer) -> dict[str, list[int]]:
    """Cases, their events and guided runs of `source` go to `target`; the ids that moved.

    Only the customer column changes: states, times and running guided processes go on
    exactly where they were, so a case in progress keeps working after the merge.
    """
    moved = {}
    for model in MODELS:
        queryset = model.objects.filter(customer=source)
        moved[label(model)] = list(queryset.values_list("id", flat=True))
        model.objects.filter(pk__in=moved[label(model)]).update(customer=target)
    return moved


def customer_cases_move_back(*, source: Customer, target: Customer, moved: dict[str, Any]) -> None:
    for model in MODELS:
        model.objects.filter(pk__in=moved.get(label(model), []), customer=target).update(
            customer=source
        )


def blank(value: object) -> object:
    """Keep the shape of captured answers (which fields were filled), drop every value."""
    if isinstance(value, dict):
        return {key: blank(item) for key, item in value.items()}
    return None


def customer_cases_anonymise(*, customer: Customer) -> None:
    """Drop the free text of the customer's cases; keep states, types, times and teams."""
    case_ids = list(Case.objects.filter(customer=customer).values_list("id", flat=True))
    text = {"subject": ERASED_TEXT, "resolution": "", "escalation_reason": "", "instruction": ""}
    Case.objects.filter(pk__in=case_ids).update(**text)
    Case.history.model.objects.filter(id__in=case_ids).update(**text, history_change_reason=None)
    CaseEvent.objects.filter(customer=customer).update(reason="")
    CaseEvent.objects.filter(case_id__in=case_ids).update(reason="")
    ExceptionItem.objects.filter(case_id__in=case_ids).update(reason=ERASED_TEXT, decision="")
    CaseMerge.objects.filter(duplicate_id__in=case_ids).update(resolution_before="")
    runs = GuidedRun.objects.filter(customer=customer) | GuidedRun.objects.filter(
        case_id__in=case_ids
    )
    for run in runs.only("id", "answers"):
        GuidedRun.objects.filter(pk=run.pk).update(
            answers=blank(run.answers), exception_reason="", decision_note="", manual_tasks=[]
        )
    for record in GuidedStepRecord.objects.filter(run__in=runs).only("id", "answers"):
        GuidedStepRecord.objects.filter(pk=record.pk).update(
            answers=blank(record.answers), note="", actions=[]
        )
    messages_anonymise(customer, case_ids)


def messages_anonymise(customer: Customer, case_ids: list[int]) -> None:
    """The raw inbound payloads and the outbox texts hold addresses and free text.

    The (channel, message id) pair stays, so a redelivered message is still a duplicate.
    """
    inbound = InboundMessage.objects.filter(customer=customer) | InboundMessage.objects.filter(
        case_id__in=case_ids
    )
    inbound.update(payload={"erased": True}, error="")
    outbound = OutboundMessage.objects.filter(customer=customer) | OutboundMessage.objects.filter(
        case_id__in=case_ids
    )
    outbound.update(recipient="", subject=ERASED_TEXT, body=ERASED_TEXT, last_error="")


def plain(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime | date) else value


def customer_cases_export(*, customer: Customer) -> dict[str, list[dict[str, object]]]:
    """The customer's cases, case events and guided runs for the data export."""
    cases = Case.objects.filter(customer=customer).order_by("created_at", "id")
    case_fields = [
        "reference", "subject", "state", "priority", "created_at", "resolved_at",
        "resolution", "escalation_reason", "instruction",
    ]  # fmt: skip
    event_fields = ["case__reference", "kind", "transition", "source", "target", "reason", "at"]
    run_fields = [
        "case__reference", "status", "current_step", "path", "answers", "exception_reason",
        "decision_note", "manual_tasks", "started_at",
    ]  # fmt: skip
    events = CaseEvent.objects.filter(customer=customer).order_by("at", "id")
    runs = GuidedRun.objects.filter(customer=customer).order_by("started_at", "id")
    return {
        "cases": [
            {k: plain(v) for k, v in row.items()} for row in cases.values(*case_fields).iterator()
        ],
        "case_events": [
            {k: plain(v) for k, v in row.items()} for row in events.values(*event_fields).iterator()
        ],
        "guided_runs": [
            {k: plain(v) for k, v in row.items()} for row in runs.values(*run_fields).iterator()
        ],
    }
