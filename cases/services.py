"""Every write to cases goes through these functions: one service per kind of change."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_fsm import ConcurrentTransition, Transition, can_proceed

from cases import outbox
from cases.memo import Memo
from cases.models import (
    ACTIVE_STATES,
    ESCALATION_PERMISSION,
    QUEUE_STATES,
    WORK_PERMISSION,
    WORKING_STATES,
    Case,
    CaseEvent,
    CaseEventKind,
    CaseLink,
    CaseLinkKind,
    CaseMerge,
    CaseState,
    CaseType,
    ExceptionItem,
    GuidedRun,
    GuidedStepRecord,
    InboundMessage,
    Priority,
    RunStatus,
    SlaChange,
    SlaPolicy,
    Team,
    TransitionInput,
    is_merged,
)
from cases.sla import BusinessHours, deadline_after, deadline_moved
from cpm.rows import Query, history_insert, keys_give, keys_query, rows_insert
from customers.models import Customer
from customers.services import interactions_refile, sequence_next, sequence_query

REASON_MAX_LENGTH = 5000


class CaseActionError(Exception):
    """A refused change to a case; the message is meant for the user."""

    status = 400


class TransitionRefused(CaseActionError):
    status = 409


class TransitionForbidden(CaseActionError):
    status = 403


class CaseConflict(CaseActionError):
    """Someone else changed the case first; the message says what it is now."""

    status = 409


def case_reference(year: int, serial: int) -> str:
    return f"C-{year}-{serial:06d}"


def case_reference_next() -> str:
    year = timezone.localdate().year
    return case_reference(year, sequence_next(name=f"case-{year}"))


@transaction.atomic
def case_create(
    *,
    customer: Customer,
    subject: str,
    by: AbstractBaseUser | None,
    assignee: AbstractBaseUser | None = None,
    case_type: CaseType | None = None,
    team: Team | None = None,
    priority: int | None = None,
) -> Case:
    """A new case; team and priority default to the case type's."""
    now = timezone.now()
    case = Case(
        reference=case_reference_next(),
        customer=customer,
        subject=subject,
        assignee=assignee,
        case_type=case_type,
        team=team or (case_type.default_team if case_type else None),
        created_at=now,
        updated_at=now,
    )
    if priority is not None:
        case.priority = priority
    elif case_type is not None:
        case.priority = case_type.default_priority
    # Customer, type, team and assignee are saved rows (their foreign keys hold in the
    # database): no query per relation to check that they exist.
    case.full_clean(exclude=["state", "customer", "case_type", "team", "assignee"])
    started = sla_start(case, now=case.created_at)
    case.save()
    CaseEvent.objects.create(
        case=case,
        customer=customer,
        kind=CaseEventKind.CREATED,
        target=case.state,
        by=by,
        at=now,
    )
    if started:
        sla_event(case, SlaChange.STARTED, by=by, at=case.created_at)
    return case


def cases_create_many(cases: list[Case], *, now, drawn: tuple[int, list]) -> list[Case]:
    """Save new cases that intake made (unsaved, customer, subject, type, team and priority
    set) with one statement each for the cases, their history rows and their events: the
    references are drawn as one block, the SLA clock is set once per type and priority.
    `drawn`: the year and what `cases_draw`'s queries made (the caller asks them with its
    own reads)."""
    year, (serials, (case_keys, event_keys)) = drawn
    keys_give(cases, case_keys)
    clocks: dict[tuple[int | None, int], tuple[Case, bool]] = {}
    started = []
    for serial, case in zip(serials, cases, strict=True):
        case.reference = case_reference(year, serial)
        case.created_at = case.updated_at = now
        key = (case.case_type_id, case.priority)
        if key not in clocks:
            clocks[key] = (case, sla_start(case, now=now))
        model, running = clocks[key]
        if running:  # the same policy from the same instant: the same due instants
            case.sla_policy_id = model.sla_policy_id
            case.response_due, case.resolution_due = model.response_due, model.resolution_due
            case.sla_warn_at = model.sla_warn_at
        started.append(running)
    rows_insert(Case, cases)
    history_insert(Case, cases, at=now)
    events = []
    for case, running in zip(cases, started, strict=True):
        kinds = [{"kind": CaseEventKind.CREATED, "target": case.state}]
        if running:
            kinds.append(
                {
                    "kind": CaseEventKind.SLA,
                    "transition": SlaChange.STARTED,
                    "due": case.resolution_due,
                }
            )
        events += [CaseEvent(case=case, customer_id=case.customer_id, at=now, **k) for k in kinds]
    keys_give(events, event_keys)
    rows_insert(CaseEvent, events)
    return cases


def cases_draw(count: int) -> tuple[int, tuple[Query, Query]]:
    """The year of new cases' references and what `cases_create_many` draws first, to ask
    with other reads in one round trip: the references' numbers, keys for the cases and
    for their events (created, and the clock started)."""
    year = timezone.localdate().year
    return year, (
        sequence_query(name=f"case-{year}", count=count),
        keys_query((Case, count), (CaseEvent, 2 * count)),
    )


def transition_method(case: Case, name: str):
    """The bound transition method called `name`, or a refusal if there is none."""
    # Merging has its own service (`case_merge`, `case_unmerge`): not fired by name.
    names = {t.name for t in case.get_all_state_transitions() if not t.custom.get("service")}
    if name not in names:
        raise TransitionRefused(_("There is no action called “%(name)s”.") % {"name": name})
    return getattr(case, name)


def current_transition(case: Case, method) -> Transition | None:
    return method._django_fsm.get_transition(case.state)


def check_transition(case: Case, name: str, by: AbstractBaseUser | None, data: TransitionInput):
    """The bound transition method, or the refusal that tells the user why not.

    `by=None` is CPM itself (the SLA check): no permission to check, the rest holds.
    """
    method = transition_method(case, name)
    if not can_proceed(method, check_conditions=False):
        raise TransitionRefused(
            _("“%(action)s” is not possible while the case is %(state)s.")
            % {"action": name, "state": case.get_state_display()}
        )
    # The permission alone (django-fsm's has_transition_perm also checks the conditions,
    # and a failed condition is a refusal with its own message, not a 403).
    found = current_transition(case, method)
    if by is not None and not found.has_perm(case, by):
        raise TransitionForbidden(_("You are not allowed to do “%(action)s”.") % {"action": name})
    for condition in found.conditions:
        if not condition(case):
            message = getattr(condition, "message", _("The conditions for this are not met."))
            raise TransitionRefused(message % {"days": settings.CPM_CASE_REOPEN_DAYS})
    if len(data.resolution) > REASON_MAX_LENGTH or len(data.reason) > REASON_MAX_LENGTH:
        raise CaseActionError(_("The text is too long (at most 5000 characters)."))
    required = found.custom.get("required")
    if required and not getattr(data, required).strip():
        raise CaseActionError(str(found.custom["missing"]))
    return method


def case_transition(
    *,
    case: Case,
    name: str,
    by: AbstractBaseUser | None,
    expected_state: str = "",
    data: TransitionInput | None = None,
) -> Case:
    """Fire transition `name` on `case` for `by`, record it, and return the saved case.

    `by=None` only for CPM's own transitions (the SLA check escalating a breached case);
    views always pass the user.

    `expected_state` is the state the user saw; when the case has moved on since, the user
    gets a conflict that names the current state instead of acting on a case they did not see.
    """
    data = data or TransitionInput()
    if expected_state and expected_state != case.state:
        raise CaseConflict(conflict_message(case))
    method = check_transition(case, name, by, data)
    clean = TransitionInput(resolution=data.resolution.strip(), reason=data.reason.strip())
    source = case.state
    try:
        with transaction.atomic():
            before = field_values(case)
            method(by=by, data=clean)
            case.updated_at = now = timezone.now()
            clock = sla_on_transition(case, source=source, now=now, responded=by is not None)
            # Only what this transition changed: a warning the minute check wrote meanwhile
            # must survive (the mixin still refuses the save if the state moved on).
            after = field_values(case)
            changed = {name for name, value in after.items() if before[name] != value}
            case.save(update_fields=sorted(changed | {"state", "updated_at"}))
            event = CaseEvent.objects.create(
                case=case,
                customer_id=case.customer_id,
                kind=CaseEventKind.TRANSITION,
                transition=name,
                source=source,
                target=case.state,
                reason=clean.reason or clean.resolution,
                by=by,
                at=now,
            )
            if clock:
                sla_event(case, clock, by=by, at=now)
            outbox.notify_transition(case=case, event=event)  # in this transaction
    except ConcurrentTransition:
        current = Case.objects.get(pk=case.pk)
        raise CaseConflict(conflict_message(current)) from None
    return case


def field_values(case: Case) -> dict[str, object]:
    return {f.attname: getattr(case, f.attname) for f in case._meta.concrete_fields}


def save_changed(case: Case, before: dict[str, object]) -> None:
    """Save the state and what the transition changed (the mixin refuses a moved state)."""
    changed = {name for name, value in field_values(case).items() if before[name] != value}
    case.save(update_fields=sorted(changed | {"state", "updated_at"}))


def conflict_message(current: Case) -> str:
    return _(
        "Someone else changed this case meanwhile. It is now %(state)s; nothing was changed."
    ) % {"state": CaseState(current.state).label}


NOTE_MAX_LENGTH = 5000
# Escalated cases move with the escalation's own transitions (take over, return).
ASSIGNABLE = [*QUEUE_STATES, CaseState.WAITING_CUSTOMER, CaseState.WAITING_THIRD_PARTY]
GET_NEXT_ATTEMPTS = 5


def queue_head(team_ids: list[int]) -> int | None:
    """The most urgent waiting case of these teams, locked on PostgreSQL (SKIP LOCKED).

    One ordered index scan per team (`case_team_queue_sla_idx`), then the most urgent of
    the heads; a join over team members would sort the whole queue instead.
    """
    heads = []
    for team_id in team_ids:
        candidates = Case.objects.waiting().filter(team_id=team_id).queue_order()
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True, of=("self",))
        head = candidates.values_list("pk", "resolution_due", "priority", "created_at").first()
        if head is not None:
            heads.append(head)
    if not heads:
        return None
    far = timezone.now() + timedelta(days=36_500)
    return min(heads, key=lambda h: (h[1] or far, h[2], h[3], h[0]))[0]


def case_get_next(*, user: AbstractBaseUser) -> Case | None:
    """Assign the most urgent unassigned case of the user's teams to them, or None if none waits.

    On PostgreSQL the candidate row is locked with SKIP LOCKED, so agents pressing at once
    each get a different case without waiting on each other. SQLite has no row locks; there
    the conditional UPDATE (only if still unassigned) decides, and a loser tries the next one.
    """
    team_ids = list(Team.objects.filter(members=user).values_list("pk", flat=True))
    for _attempt in range(GET_NEXT_ATTEMPTS):
        with transaction.atomic():
            pk = queue_head(team_ids)
            if pk is None:
                return None
            now = timezone.now()
            taken = Case.objects.filter(pk=pk, assignee__isnull=True).update(
                assignee=user, updated_at=now
            )
            if not taken:
                continue  # someone else was faster (SQLite); try the next case
            case = Case.objects.select_related("customer", "team").get(pk=pk)
            CaseEvent.objects.create(
                case=case,
                customer_id=case.customer_id,
                kind=CaseEventKind.ASSIGNED,
                assignee=user,
                team=case.team,
                reason=_("Taken with “get next case”."),
                by=user,
                at=now,
            )
            return case
    return None


def may_assign(case: Case, user: AbstractBaseUser) -> bool:
    """Anyone who works cases reassigns working cases; escalated ones only supervisors."""
    if case.state == CaseState.ESCALATED:
        return user.has_perm(ESCALATION_PERMISSION)
    return case.state in ASSIGNABLE and user.has_perm(WORK_PERMISSION)


def case_assign(
    *,
    case: Case,
    by: AbstractBaseUser,
    team: Team | None,
    assignee: AbstractBaseUser | None,
    note: str = "",
) -> Case:
    """Reassign the case to a person and/or transfer it to another team, with a note.

    A transfer to another team needs a note, so the receiving team knows why it came.
    An assignee must be a member of the case's (new) team.
    """
    note = note.strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise CaseActionError(_("The text is too long (at most 5000 characters)."))
    if not may_assign(case, by):
        raise TransitionRefused(
            _("A case that is %(state)s cannot be reassigned.")
            % {"state": case.get_state_display()}
        )
    transfer = team is not None and team.pk != case.team_id
    if transfer and not note:
        raise CaseActionError(_("Say why the case goes to another team."))
    if team is None and assignee is None:
        raise CaseActionError(_("Choose a team or a person."))
    new_team = team or case.team
    if assignee is not None and (
        new_team is None or not new_team.members.filter(pk=assignee.pk).exists()
    ):
        raise CaseActionError(_("The person must be a member of the case's team."))
    with transaction.atomic():
        # Assignment is not a state change; lock the row so two reassignments queue up.
        locked = Case.objects.select_for_update().get(pk=case.pk)
        if locked.state != case.state or locked.assignee_id != case.assignee_id:
            raise CaseConflict(conflict_message(locked))
        now = timezone.now()
        Case.objects.filter(pk=case.pk).update(team=new_team, assignee=assignee, updated_at=now)
        CaseEvent.objects.create(
            case=case,
            customer_id=case.customer_id,
            kind=CaseEventKind.ASSIGNED,
            team=new_team,
            assignee=assignee,
            reason=note,
            by=by,
            at=now,
        )
    case.refresh_from_db()
    return case


def case_note_add(*, case: Case, by: AbstractBaseUser, text: str) -> CaseEvent:
    """An internal note on the case; customers never see it."""
    text = text.replace("\x00", "").strip()
    if not text:
        raise CaseActionError(_("Write a note first."))
    if len(text) > NOTE_MAX_LENGTH:
        raise CaseActionError(_("The text is too long (at most 5000 characters)."))
    return CaseEvent.objects.create(
        case=case, customer_id=case.customer_id, kind=CaseEventKind.NOTE, reason=text, by=by
    )


# SLA clocks ---------------------------------------------------------------------------------
# The clock runs in working time of the policy's calendar. It pauses while the case waits on
# the customer and while it is resolved (a reopen resumes it); due instants are stored in real
# time and moved on resume, so the minute check is one indexed query.
STOPPED_STATES = [CaseState.RESOLVED, CaseState.CLOSED, CaseState.CANCELLED]


def sla_policies_load() -> dict[tuple[int, int], tuple[SlaPolicy, BusinessHours]]:
    """Every SLA policy by (case type, priority), with its calendar's working time."""
    policies = SlaPolicy.objects.select_related("calendar").prefetch_related(
        "calendar__working_hours"
    )
    hours: dict[int, BusinessHours] = {}  # one per calendar, however many policies share it
    found = {}
    for policy in policies.order_by("pk"):
        if policy.calendar_id not in hours:
            hours[policy.calendar_id] = policy.calendar.business_hours()
        found[(policy.case_type_id, policy.priority)] = (policy, hours[policy.calendar_id])
    return found


# Every new case asks for its policy; read once per process (cases.memo).
SLA_POLICIES = Memo("sla-policies", sla_policies_load)


def sla_start(case: Case, *, now) -> bool:
    """Set the due instants from the case type's policy for the case's priority (in memory)."""
    found = SLA_POLICIES.get().get((case.case_type_id, case.priority))
    if found is None:
        return False
    policy, hours = found
    try:
        response_due = deadline_after(hours, now, policy.first_response_minutes)
        resolution_due = deadline_after(hours, now, policy.resolution_minutes)
        warn_at = deadline_after(hours, now, policy.resolution_minutes * policy.warn_percent / 100)
    except ValueError:
        # A calendar without working hours: the case goes on without a clock, and a human
        # is asked to fix the calendar (the case does not exist yet, so none is linked).
        exception_raise(
            source="sla",
            reason=_("Calendar “%(calendar)s” has no working hours; case %(case)s has no SLA.")
            % {"calendar": policy.calendar.name, "case": case.reference},
        )
        return False
    case.sla_policy = policy
    case.response_due, case.resolution_due, case.sla_warn_at = response_due, resolution_due, warn_at
    return True


def sla_on_transition(case: Case, *, source: str, now, responded: bool = True) -> SlaChange | None:
    """Pause, resume or stop the clock for a transition just made (in memory).

    A person's first transition of a new case is its first response; CPM's own
    (`responded=False`, the SLA check's escalation) is not.
    """
    if responded and case.responded_at is None and source == CaseState.NEW:
        case.responded_at = now
    if case.resolution_due is None or case.sla_policy_id is None:
        return None
    pauses = case.state == CaseState.WAITING_CUSTOMER or case.state in STOPPED_STATES
    if pauses and case.sla_paused_at is None:
        case.sla_paused_at = now
        return SlaChange.PAUSED if case.state == CaseState.WAITING_CUSTOMER else SlaChange.STOPPED
    if not pauses and case.sla_paused_at is not None:
        hours = case.sla_policy.calendar.business_hours()
        paused = case.sla_paused_at
        case.resolution_due = deadline_moved(hours, case.resolution_due, paused, now)
        if case.responded_at is None and case.response_due:
            case.response_due = deadline_moved(hours, case.response_due, paused, now)
        if case.sla_warned_at is None and case.sla_warn_at:
            case.sla_warn_at = deadline_moved(hours, case.sla_warn_at, paused, now)
        case.sla_paused_at = None
        return SlaChange.RESUMED
    return None


def sla_event(case: Case, change: SlaChange, *, by: AbstractBaseUser | None, at) -> CaseEvent:
    return CaseEvent.objects.create(
        case=case,
        customer_id=case.customer_id,
        kind=CaseEventKind.SLA,
        transition=change,
        due=case.resolution_due,
        by=by,
        at=at,
    )


def sla_check(*, now) -> dict[str, int]:
    """The minute check: mark cases at risk (and raise their priority) and breached cases.

    Breached cases show in the supervisors' escalation inbox. Each case is marked once; the
    conditional UPDATE makes a second check running at the same time a no-op.
    """
    running = Case.objects.filter(state__in=ACTIVE_STATES, sla_paused_at__isnull=True)
    warned = breached = 0
    for case in running.filter(sla_warned_at__isnull=True, sla_warn_at__lte=now):
        with transaction.atomic():
            raised = max(Priority.URGENT, case.priority - 1)
            if Case.objects.filter(pk=case.pk, sla_warned_at__isnull=True).update(
                sla_warned_at=now, priority=raised
            ):
                sla_event(case, SlaChange.WARNED, by=None, at=now)
                warned += 1
    for case in running.filter(sla_breached_at__isnull=True, resolution_due__lte=now):
        with transaction.atomic():
            if Case.objects.filter(pk=case.pk, sla_breached_at__isnull=True).update(
                sla_breached_at=now
            ):
                sla_event(case, SlaChange.BREACHED, by=None, at=now)
                breached += 1
                sla_escalate(case)
    return {"warned": warned, "breached": breached}


def sla_escalate(case: Case) -> None:
    """A breached case goes to the supervisors: escalated through its transition, by CPM.

    An escalated case stays as it is; a case that someone changed meanwhile keeps the
    breach mark (it shows in the escalation inbox all the same) and is not escalated.
    """
    if case.state not in WORKING_STATES:
        return
    reason = _("Resolution SLA breached.")
    try:
        case_transition(
            case=case,
            name="escalate",
            by=None,
            expected_state=case.state,
            data=TransitionInput(reason=reason),
        )
    except CaseActionError:
        return


# Exceptions ("needs a human") -----------------------------------------------------------------


def exception_raise(*, source: str, reason: str, case: Case | None = None) -> ExceptionItem:
    """Put an item an automation cannot decide in front of the supervisors, with the reason.

    Idempotent per open (case, source, reason): a check that runs every minute raises it once.
    """
    with transaction.atomic():
        item, created = ExceptionItem.objects.get_or_create(
            case=case, source=source, reason=reason, decided_at=None
        )
        if created and case is not None:
            exception_event(item).save()
    return item


def exception_event(item: ExceptionItem) -> CaseEvent:
    """The case's event for an exception raised on it (unsaved)."""
    return CaseEvent(
        case=item.case,
        customer_id=item.case.customer_id,
        kind=CaseEventKind.EXCEPTION,
        transition=item.source,
        reason=item.reason,
        at=item.raised_at,
    )


def exceptions_raise_new(items: list[tuple[Case, str, str]]) -> list[ExceptionItem]:
    """`exception_raise` for (case, source, reason) on cases made in this very transaction,
    which cannot hold an open item yet: the items and their case events, one statement
    each (intake's unknown senders)."""
    now = timezone.now()
    raised = rows_insert(
        ExceptionItem,
        [
            ExceptionItem(case=case, source=source, reason=reason, raised_at=now)
            for case, source, reason in items
        ],
    )
    rows_insert(CaseEvent, [exception_event(item) for item in raised])
    return raised


def exception_decide(*, item: ExceptionItem, by: AbstractBaseUser, decision: str) -> ExceptionItem:
    """A supervisor's decision on an exception; each is decided once."""
    decision = decision.replace("\x00", "").strip()
    if not decision:
        raise CaseActionError(_("Write down what you decided."))
    if len(decision) > NOTE_MAX_LENGTH:
        raise CaseActionError(_("The text is too long (at most 5000 characters)."))
    now = timezone.now()
    with transaction.atomic():
        if not ExceptionItem.objects.filter(pk=item.pk, decided_at__isnull=True).update(
            decided_at=now, decided_by=by, decision=decision
        ):
            raise CaseConflict(_("Someone else decided this meanwhile; nothing was changed."))
        if item.case_id is not None:
            CaseEvent.objects.create(
                case_id=item.case_id,
                customer_id=item.case.customer_id,
                kind=CaseEventKind.EXCEPTION,
                transition="decided",
                reason=decision,
                by=by,
                at=now,
            )
    item.refresh_from_db()
    return item


# Links between cases ---------------------------------------------------------------------------


def case_link(
    *, case: Case, reference: str, by: AbstractBaseUser, kind: str = CaseLinkKind.RELATED
) -> CaseLink:
    """Link `case` with the case called `reference` (either direction counts as one link)."""
    reference = reference.replace("\x00", "").strip().upper()
    other = Case.objects.filter(reference=reference).first()
    if other is None:
        raise CaseActionError(_("There is no case %(reference)s.") % {"reference": reference})
    if other.pk == case.pk:
        raise CaseActionError(_("A case cannot be linked with itself."))
    pair = CaseLink.objects.filter(source=case, target=other) | CaseLink.objects.filter(
        source=other, target=case
    )
    if pair.exists():
        raise CaseActionError(
            _("%(reference)s is already linked.") % {"reference": other.reference}
        )
    with transaction.atomic():
        link = CaseLink.objects.create(source=case, target=other, kind=kind, by=by)
        for one, two in ((case, other), (other, case)):
            CaseEvent.objects.create(
                case=one,
                customer_id=one.customer_id,
                kind=CaseEventKind.NOTE,
                reason=_("Linked with %(reference)s.") % {"reference": two.reference},
                by=by,
            )
    return link


@transaction.atomic
def case_follow_up_create(*, case: Case, by: AbstractBaseUser) -> Case:
    """A new case for the same matter, linked to `case`, once `case` is resolved or closed.

    This is the way back for a customer whose case is past the reopen window.
    """
    if case.state not in (CaseState.RESOLVED, CaseState.CLOSED):
        raise TransitionRefused(_("Only a resolved or closed case gets a follow-up case."))
    if case.merged_into_id is not None:
        raise TransitionRefused(
            _("A merged case gets no follow-up case; its matter goes on in %(reference)s.")
            % {"reference": case.merged_into.reference}
        )
    follow_up = case_create(
        customer=case.customer,
        subject=case.subject,
        by=by,
        case_type=case.case_type,
        team=case.team,
        priority=case.priority,
    )
    CaseLink.objects.create(source=case, target=follow_up, kind=CaseLinkKind.FOLLOW_UP, by=by)
    CaseEvent.objects.create(
        case=follow_up,
        customer_id=case.customer_id,
        kind=CaseEventKind.NOTE,
        reason=_("Follow-up of %(reference)s.") % {"reference": case.reference},
        by=by,
    )
    return follow_up


# Merging a duplicate case into another -------------------------------------------------------


def cases_lock(*pks: int) -> dict[int, Case]:
    """Lock these cases in primary-key order (two merges crossing each other never deadlock)."""
    rows = Case.objects.select_for_update().filter(pk__in=pks).order_by("pk")
    return {case.pk: case for case in rows}


def merge_refusal(duplicate: Case, target: Case) -> str:
    """Why `duplicate` cannot be merged into `target` now, or ""."""
    if target.pk == duplicate.pk:
        return _("A case cannot be merged into itself.")
    if duplicate.merged_into_id is not None:
        return _("%(reference)s was merged into another case already.") % {
            "reference": duplicate.reference
        }
    if duplicate.customer_id != target.customer_id:
        return _(
            "%(reference)s belongs to another customer; only cases of the same customer "
            "can be merged."
        ) % {"reference": target.reference}
    if target.merged_into_id is not None:
        return _("%(reference)s was itself merged into another case; merge into that one.") % {
            "reference": target.reference
        }
    if target.state in (CaseState.CLOSED, CaseState.CANCELLED):
        return _("%(reference)s is %(state)s; merge into a case that is still open.") % {
            "reference": target.reference,
            "state": target.get_state_display(),
        }
    if CaseMerge.objects.filter(target=duplicate, undone_at__isnull=True).exists():
        return _(
            "Other cases were merged into %(reference)s; a case that holds merged cases "
            "cannot itself be merged."
        ) % {"reference": duplicate.reference}
    waiting = GuidedRun.objects.filter(case=duplicate, status=RunStatus.WAITING_DECISION)
    if (
        waiting.exists()
        or ExceptionItem.objects.filter(case=duplicate, decided_at__isnull=True).exists()
    ):
        return _(
            "%(reference)s has an exception waiting for a supervisor's decision; "
            "decide it before merging."
        ) % {"reference": duplicate.reference}
    return ""


def merge_method(case: Case, name: str, by: AbstractBaseUser):
    """The `merge`/`unmerge` transition, checked like every other one (state, permission)."""
    method = getattr(case, name)
    if not can_proceed(method, check_conditions=False):
        raise TransitionRefused(
            _("A case that is %(state)s cannot be merged.") % {"state": case.get_state_display()}
            if name == "merge"
            else str(is_merged.message)
        )
    found = current_transition(case, method)
    if not found.has_perm(case, by):
        raise TransitionForbidden(
            _("You are not allowed to merge this case.")
            if name == "merge"
            else _("You are not allowed to undo a merge.")
        )
    if not all(condition(case) for condition in found.conditions):
        raise TransitionRefused(str(is_merged.message))
    return method


def duplicate_link(duplicate: Case, target: Case, by: AbstractBaseUser) -> dict[str, object]:
    """Mark the pair as duplicates; what it was before, so the undo can restore it."""
    link = (
        CaseLink.objects.filter(source=duplicate, target=target)
        | CaseLink.objects.filter(source=target, target=duplicate)
    ).first()
    if link is None:
        link = CaseLink.objects.create(
            source=duplicate, target=target, kind=CaseLinkKind.DUPLICATE, by=by
        )
        return {"link": link.pk, "link_kind_before": ""}
    before = link.kind
    CaseLink.objects.filter(pk=link.pk).update(kind=CaseLinkKind.DUPLICATE)
    return {"link": link.pk, "link_kind_before": before}


def case_merge(
    *, case: Case, into: str | Case, by: AbstractBaseUser, expected_state: str = ""
) -> CaseMerge:
    """Merge the duplicate `case` into the case `into` (a reference or a case).

    The duplicate's contacts (interactions) and intake messages move to the target, the
    duplicate closes through its `merge` transition with the resolution "Merged into C-…",
    the pair is linked as duplicates, and both cases get an event. Refused for another
    customer's case, a closed, cancelled or merged target, and while the duplicate has an
    exception waiting for a decision. A guided run in progress on the duplicate ends as
    abandoned (`guided_run_abandon`).
    `case_unmerge` undoes all of it.
    """
    if isinstance(into, str):
        reference = into.replace("\x00", "").strip().upper()
        into = Case.objects.filter(reference=reference).first()
        if into is None:
            raise CaseActionError(_("There is no case %(reference)s.") % {"reference": reference})
    if into.pk == case.pk:
        raise CaseActionError(_("A case cannot be merged into itself."))
    try:
        with transaction.atomic():
            locked = cases_lock(case.pk, into.pk)
            duplicate, target = locked[case.pk], locked[into.pk]
            if expected_state and expected_state != duplicate.state:
                raise CaseConflict(conflict_message(duplicate))
            if duplicate.merged_into_id is not None:  # says more than "closed" would
                raise TransitionRefused(merge_refusal(duplicate, target))
            method = merge_method(duplicate, "merge", by)
            refusal = merge_refusal(duplicate, target)
            if refusal:
                raise CaseActionError(refusal)
            merge = merge_record(duplicate, target, method, by)
    except ConcurrentTransition:
        raise CaseConflict(conflict_message(Case.objects.get(pk=case.pk))) from None
    except IntegrityError:  # the one-merge-per-duplicate constraint: someone was faster
        raise CaseConflict(conflict_message(Case.objects.get(pk=case.pk))) from None
    case.refresh_from_db()
    return merge


def merge_record(duplicate: Case, target: Case, method, by: AbstractBaseUser) -> CaseMerge:
    """The merge itself, inside `case_merge`'s transaction with both rows locked."""
    source = duplicate.state
    merge = CaseMerge(
        duplicate=duplicate,
        target=target,
        state_before=source,
        resolution_before=duplicate.resolution,
        resolved_at_before=duplicate.resolved_at,
        by=by,
    )
    text = _("Merged into %(reference)s.") % {"reference": target.reference}
    before = field_values(duplicate)
    method(by=by, data=TransitionInput(resolution=text), into=target)
    now = duplicate.updated_at = timezone.now()
    clock = sla_on_transition(duplicate, source=source, now=now)
    save_changed(duplicate, before)
    interactions = interactions_refile(
        from_reference=duplicate.reference, to_reference=target.reference
    )
    inbound = list(InboundMessage.objects.filter(case=duplicate).values_list("pk", flat=True))
    InboundMessage.objects.filter(pk__in=inbound).update(case=target)
    merge.moved = {
        "interactions": interactions,
        "inbound_messages": inbound,
        **duplicate_link(duplicate, target, by),
    }
    merge.at = now
    merge.save()
    guided_run_abandon(
        case=duplicate,
        by=by,
        note=_("Abandoned: the case was merged into %(reference)s.")
        % {"reference": target.reference},
        at=now,
    )
    note = ngettext(
        "%(reference)s was merged into this case; %(count)s contact moved here.",
        "%(reference)s was merged into this case; %(count)s contacts moved here.",
        len(interactions),
    ) % {"reference": duplicate.reference, "count": len(interactions)}
    merge_events(duplicate, target, "merge", source, text, note, clock, by=by, at=now)
    return merge


def merge_events(
    duplicate: Case,
    target: Case,
    transition: str,
    source: str,
    reason: str,
    note: str,
    clock: SlaChange | None,
    *,
    by: AbstractBaseUser,
    at: datetime,
) -> None:
    """The duplicate's transition event (and its SLA clock's), and the note on the target."""
    CaseEvent.objects.create(
        case=duplicate,
        customer_id=duplicate.customer_id,
        kind=CaseEventKind.TRANSITION,
        transition=transition,
        source=source,
        target=duplicate.state,
        reason=reason,
        by=by,
        at=at,
    )
    if clock:
        sla_event(duplicate, clock, by=by, at=at)
    CaseEvent.objects.create(
        case=target,
        customer_id=target.customer_id,
        kind=CaseEventKind.NOTE,
        reason=note,
        by=by,
        at=at,
    )


def guided_run_abandon(*, case: Case, by: AbstractBaseUser, note: str, at) -> None:
    """End the run in progress on `case` (if any) as abandoned, with a step record saying
    why; a screen still showing its step is refused (the revision moves on)."""
    run = GuidedRun.objects.select_for_update().filter(case=case, status=RunStatus.ACTIVE).first()
    if run is None:
        return
    GuidedStepRecord.objects.create(
        run=run,
        kind=GuidedStepRecord.Kind.ABANDONED,
        step_key=run.current_step,
        note=note[:2000],
        by=by,
        at=at,
    )
    run.status, run.revision, run.updated_at = RunStatus.ABANDONED, run.revision + 1, at
    run.save(update_fields=["status", "revision", "updated_at"])


def case_unmerge(*, case: Case, by: AbstractBaseUser) -> CaseMerge:
    """Undo the merge of `case`: it returns to its state before, with exactly the contacts
    and messages the merge moved (ones added to the target since stay there), the link as it
    was, and an event on both cases. Supervisors and admins (`cases.undo_casemerge`).
    """
    try:
        with transaction.atomic():
            merge = (
                CaseMerge.objects.filter(duplicate=case, undone_at__isnull=True)
                .select_for_update()
                .first()
            )
            if merge is None:
                raise TransitionRefused(str(is_merged.message))
            locked = cases_lock(merge.duplicate_id, merge.target_id)
            duplicate, target = locked[merge.duplicate_id], locked[merge.target_id]
            method = merge_method(duplicate, "unmerge", by)
            source, before = duplicate.state, field_values(duplicate)
            method(by=by, data=TransitionInput(), merge=merge)
            now = duplicate.updated_at = timezone.now()
            clock = sla_on_transition(duplicate, source=source, now=now)
            save_changed(duplicate, before)
            moved = merge.moved
            back = interactions_refile(
                from_reference=target.reference,
                to_reference=duplicate.reference,
                ids=moved.get("interactions", []),
            )
            InboundMessage.objects.filter(
                pk__in=moved.get("inbound_messages", []), case=target
            ).update(case=duplicate)
            link = CaseLink.objects.filter(pk=moved.get("link"))
            if moved.get("link_kind_before"):
                link.update(kind=moved["link_kind_before"])
            else:
                link.delete()
            merge.undone_at, merge.undone_by = now, by
            merge.save(update_fields=["undone_at", "undone_by"])
            text = _("Merge into %(reference)s undone.") % {"reference": target.reference}
            note = ngettext(
                "Merge of %(reference)s undone; %(count)s contact went back.",
                "Merge of %(reference)s undone; %(count)s contacts went back.",
                len(back),
            ) % {"reference": duplicate.reference, "count": len(back)}
            merge_events(duplicate, target, "unmerge", source, text, note, clock, by=by, at=now)
    except ConcurrentTransition:
        raise CaseConflict(conflict_message(Case.objects.get(pk=case.pk))) from None
    case.refresh_from_db()
    return merge
