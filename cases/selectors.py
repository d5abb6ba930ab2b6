"""Reads for the case screens, with the one access rule for cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import Case as DbCase
from django.db.models import F, Q, When
from django.http import Http404

from cases.intake import IDENTIFY_SOURCE
from cases.models import (
    ACTIVE_STATES,
    ESCALATION_PERMISSION,
    MERGEABLE_STATES,
    UNMERGE_PERMISSION,
    WORK_PERMISSION,
    Case,
    CaseEvent,
    CaseLink,
    CaseQuerySet,
    CaseState,
    ExceptionItem,
    InboundMessage,
    MessageMove,
    ReplyTemplate,
    Team,
    reopen_window_open,
)
from customers.models import Attachment, CustomerStatus

HOME_LIST_SIZE = 50
QUEUE_PAGE_SIZE = 25


@dataclass(frozen=True)
class TransitionButton:
    name: str
    label: str
    fields: list[str]
    prompt: str = ""


def access_case_by_reference(*, user: AbstractBaseUser | AnonymousUser, reference: str) -> Case:
    """The one access rule for a case: 404 when missing, 403 without the permission."""
    if not user.has_perm("cases.view_case"):
        raise PermissionDenied
    try:
        return Case.objects.select_related(
            "customer", "assignee", "team", "case_type", "escalated_by", "merged_into"
        ).get(reference=reference)
    except Case.DoesNotExist:
        raise Http404 from None


def case_transition_buttons(*, case: Case, user: AbstractBaseUser) -> list[TransitionButton]:
    """The transitions this user may fire on this case now, for drawing buttons."""
    return [
        TransitionButton(
            name=t.name,
            label=str(t.custom.get("label", t.name)),
            fields=list(t.custom.get("fields", [])),
            prompt=str(t.custom.get("prompt", "")),
        )
        for t in case.get_available_user_state_transitions(user)
        if not t.custom.get("service")  # merging has its own form
    ]


def case_events(*, case: Case, limit: int = 50) -> list[CaseEvent]:
    return list(case.events.select_related("by", "team", "assignee").order_by("-at", "-id")[:limit])


def my_cases(*, user: AbstractBaseUser) -> list[Case]:
    return list(
        Case.objects.active()
        .assigned_to(user)
        .select_related("customer")
        .queue_order()[:HOME_LIST_SIZE]
    )


def open_cases(*, limit: int = HOME_LIST_SIZE) -> list[Case]:
    """The oldest open cases (for users in no team); one more than `limit` says "more"."""
    return list(
        Case.objects.active()
        .select_related("customer", "assignee")
        .order_by("created_at", "id")[:limit]
    )


CUSTOMER_CASES_SHOWN = 20


def customer_active_cases(*, customer_id: int) -> list[Case]:
    """The customer's cases still being worked, oldest first, for the cockpit's panel."""
    return list(
        Case.objects.active()
        .filter(customer_id=customer_id)
        .select_related("assignee")
        .order_by("created_at", "id")[:CUSTOMER_CASES_SHOWN]
    )


def case_search(*, query: str) -> Case | None:
    query = query.replace("\x00", "").strip().upper()
    return Case.objects.filter(reference=query).first() if query.startswith("C-") else None


def user_teams(*, user: AbstractBaseUser) -> list[Team]:
    return list(Team.objects.filter(members=user))


def team_queue(*, teams: list[Team], limit: int = HOME_LIST_SIZE) -> list[Case]:
    """The unassigned cases waiting in these teams' queues: most urgent, then oldest first."""
    return list(queue_cases(teams)[:limit])


def queue_cases(teams: list[Team]) -> CaseQuerySet:
    return (
        Case.objects.waiting()
        .filter(team__in=teams)
        .select_related("customer", "team")
        .queue_order()
    )


@dataclass(frozen=True)
class QueuePage:
    cases: list[Case]
    next_cursor: str  # "" on the last page


def queue_cursor(case: Case) -> str:
    due = case.resolution_due.isoformat() if case.resolution_due else ""
    return f"{due}|{case.priority}|{case.created_at.isoformat()}|{case.pk}"


QueuePosition = tuple[datetime | None, int, datetime, int]


def parse_queue_cursor(cursor: str) -> QueuePosition | None:
    """The queue position after which the next page starts; None for a bad cursor."""
    parts = cursor.split("|")
    if len(parts) != 4:
        return None
    due, priority, created, pk = parts
    try:
        return (
            datetime.fromisoformat(due) if due else None,
            int(priority),
            datetime.fromisoformat(created),
            int(pk),
        )
    except ValueError:
        return None


def after_queue_position(position: QueuePosition | None) -> Q:
    """Cases that come after the position in queue order (due nulls last, priority, age)."""
    if position is None:
        return Q()
    due, priority, created, pk = position
    later = (
        Q(priority__gt=priority)
        | Q(priority=priority, created_at__gt=created)
        | Q(priority=priority, created_at=created, pk__gt=pk)
    )
    if due is None:
        return Q(resolution_due__isnull=True) & later
    same_due = Q(resolution_due=due) & later
    return Q(resolution_due__gt=due) | same_due | Q(resolution_due__isnull=True)


def team_queue_page(
    *, teams: list[Team], cursor: str = "", size: int = QUEUE_PAGE_SIZE
) -> QueuePage:
    """One page of the teams' queue, by keyset: no OFFSET and no COUNT over the queue."""
    position = parse_queue_cursor(cursor) if cursor else None
    rows = list(queue_cases(teams).filter(after_queue_position(position))[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return QueuePage(cases=rows, next_cursor=queue_cursor(rows[-1]) if more else "")


def escalation_inbox(*, limit: int = 100) -> list[Case]:
    """Escalated cases and cases whose SLA is breached, newest first: each row says why."""
    return list(
        Case.objects.filter(
            Q(state=CaseState.ESCALATED) | Q(state__in=ACTIVE_STATES, sla_breached_at__isnull=False)
        )
        .select_related("customer", "team", "escalated_by", "assignee")
        .annotate(
            inbox_at=DbCase(
                When(state=CaseState.ESCALATED, then="escalated_at"), default="sla_breached_at"
            )
        )
        .order_by(F("inbox_at").desc(nulls_last=True), "-id")[:limit]
    )


def assign_choices() -> dict[str, object]:
    """Teams and the people in them, for the reassign/transfer form."""
    users = (
        get_user_model()
        .objects.filter(teams__isnull=False, is_active=True)
        .distinct()
        .order_by("username")
    )
    return {"teams": list(Team.objects.all()), "people": list(users)}


def case_is_active(case: Case) -> bool:
    return case.state in ACTIVE_STATES


def reopen_expired_note(*, case: Case) -> str:
    """Why a resolved case has no "Reopen" button any more, or ""."""
    if case.state != CaseState.RESOLVED or reopen_window_open(case):
        return ""
    return str(reopen_window_open.message) % {"days": settings.CPM_CASE_REOPEN_DAYS}


def open_exceptions(*, limit: int = 100) -> list[ExceptionItem]:
    """Undecided exceptions, newest first."""
    return list(
        ExceptionItem.objects.filter(decided_at__isnull=True)
        .select_related("case__customer")
        .order_by("-raised_at", "-id")[:limit]
    )


def access_exception_by_id(*, user: AbstractBaseUser | AnonymousUser, pk: int) -> ExceptionItem:
    if not user.has_perm("cases.handle_escalation"):
        raise PermissionDenied
    try:
        return ExceptionItem.objects.select_related("case__customer", "decided_by").get(pk=pk)
    except ExceptionItem.DoesNotExist:
        raise Http404 from None


def access_identify_item_by_id(*, user: AbstractBaseUser | AnonymousUser, pk: int) -> ExceptionItem:
    """A "to-identify" item, for everyone who works cases (not only supervisors): linking an
    unknown sender is desk work. 404 for any other kind of exception."""
    if not user.has_perm("cases.change_case"):
        raise PermissionDenied
    try:
        return ExceptionItem.objects.select_related("case__customer", "decided_by").get(
            pk=pk, source=IDENTIFY_SOURCE
        )
    except ExceptionItem.DoesNotExist:
        raise Http404 from None


def case_identify_item(*, case: Case) -> ExceptionItem | None:
    """The open "who wrote this?" item of a prospect's case; no query for a known customer."""
    if case.customer.status != CustomerStatus.PROSPECT or case.customer.merged_into_id:
        return None
    return (
        ExceptionItem.objects.filter(case=case, source=IDENTIFY_SOURCE, decided_at__isnull=True)
        .order_by("-raised_at", "-id")
        .first()
    )


@dataclass(frozen=True)
class LinkedCase:
    case: Case
    kind: str


def case_links(*, case: Case) -> list[LinkedCase]:
    """The cases linked with this one, either way, newest link first."""
    links = (
        CaseLink.objects.filter(Q(source=case) | Q(target=case))
        .select_related("source", "target")
        .order_by("-at", "-id")
    )
    return [
        LinkedCase(case=link.target if link.source_id == case.pk else link.source, kind=link.kind)
        for link in links
    ]


def case_inbound_messages(*, case: Case, limit: int = 50) -> list[InboundMessage]:
    """The messages intake attached to the case, newest first, with why each was attached."""
    return list(
        InboundMessage.objects.filter(case=case)
        .select_related("interaction", "last_move__from_case", "last_move__by")
        .prefetch_related("interaction__attachments")
        .order_by("-received_at", "-id")[:limit]
    )


def inbound_message_get(*, case: Case, pk: int) -> InboundMessage:
    """A message of this case (a message of another case is a 404, like a missing one)."""
    try:
        return InboundMessage.objects.select_related("case").get(case=case, pk=pk)
    except InboundMessage.DoesNotExist:
        raise Http404 from None


def attachment_get(*, case: Case, pk: int) -> Attachment:
    """A stored file of a message on this case (any other, or one not stored, is a 404)."""
    try:
        return Attachment.objects.select_related("interaction").get(
            pk=pk,
            omitted=False,
            interaction__customer_id=case.customer_id,
            interaction__case_reference=case.reference,
        )
    except Attachment.DoesNotExist:
        raise Http404 from None


def message_move_get(*, case: Case, pk: int) -> MessageMove:
    """A move from or to this case (any other is a 404, like a missing one)."""
    try:
        return MessageMove.objects.select_related("from_case", "to_case", "message").get(
            Q(from_case=case) | Q(to_case=case), pk=pk
        )
    except MessageMove.DoesNotExist:
        raise Http404 from None


def reply_template_get(*, pk: str) -> ReplyTemplate | None:
    """An active reply template by its id as typed (None when empty, bad or inactive)."""
    if not pk.isdigit():
        return None
    return ReplyTemplate.objects.filter(pk=int(pk), active=True).first()


@dataclass(frozen=True)
class MergePanel:
    """What the merge panel of a case shows: the merge it is part of, and what the user may do."""

    merged_cases: list[Case]
    may_merge: bool
    may_unmerge: bool  # this case's own merge
    may_undo_merged: bool = False  # the merges of the cases merged into this one


def case_merge_panel(
    *, case: Case, user: AbstractBaseUser, links: list[LinkedCase] | None = None
) -> MergePanel:
    """No query of its own on the case page: a merge always links the pair as duplicates,
    so the cases merged into this one are among its links (`case.merged_into` comes with
    the case)."""
    if case.state == CaseState.ESCALATED:
        may_merge = user.has_perm(ESCALATION_PERMISSION)
    else:
        may_merge = case.state in MERGEABLE_STATES and user.has_perm(WORK_PERMISSION)
    links = case_links(case=case) if links is None else links
    merged_cases = [link.case for link in links if link.case.merged_into_id == case.pk]
    may_undo = user.has_perm(UNMERGE_PERMISSION)
    return MergePanel(
        merged_cases=merged_cases,
        may_merge=may_merge,
        may_unmerge=case.merged_into_id is not None and may_undo,
        may_undo_merged=bool(merged_cases) and may_undo,
    )
