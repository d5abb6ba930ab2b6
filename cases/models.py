from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition
from simple_history.manager import HistoryManager
from simple_history.models import HistoricalRecords

from cases.placeholders import PLACEHOLDERS, placeholder_problems
from cases.sla import BusinessHours, deadline_after, german_holidays
from customers.models import Customer
from guidance.models import DeclineReason, OfferResult


class CaseState(models.TextChoices):
    NEW = "new", _("New")
    OPEN = "open", _("Open")
    WAITING_CUSTOMER = "waiting_customer", _("Waiting on customer")
    WAITING_THIRD_PARTY = "waiting_third_party", _("Waiting on third party")
    ESCALATED = "escalated", _("Escalated")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")
    CANCELLED = "cancelled", _("Cancelled")


class Priority(models.IntegerChoices):
    """Lower is more urgent, so queues sort ascending."""

    URGENT = 1, _("Urgent")
    HIGH = 2, _("High")
    NORMAL = 3, _("Normal")
    LOW = 4, _("Low")


class CaseCategory(models.TextChoices):
    QUESTION = "question", _("Question")
    REQUEST = "request", _("Request")
    COMPLAINT = "complaint", _("Complaint")
    CANCELLATION = "cancellation", _("Cancellation")
    DISRUPTION = "disruption", _("Disruption")


# Not finished: someone still has to act on these.
ACTIVE_STATES = [
    CaseState.NEW,
    CaseState.OPEN,
    CaseState.WAITING_CUSTOMER,
    CaseState.WAITING_THIRD_PARTY,
    CaseState.ESCALATED,
]
# What an agent can pick up with "get next case".
QUEUE_STATES = [CaseState.NEW, CaseState.OPEN]
WORKING_STATES = [
    CaseState.NEW,
    CaseState.OPEN,
    CaseState.WAITING_CUSTOMER,
    CaseState.WAITING_THIRD_PARTY,
]
WORK_PERMISSION = "cases.change_case"
CLOSE_PERMISSION = "cases.close_case"
CANCEL_PERMISSION = "cases.cancel_case"
ESCALATION_PERMISSION = "cases.handle_escalation"
UNMERGE_PERMISSION = "cases.undo_casemerge"
# A duplicate may be merged while it is worked or resolved; undo brings it back to that state.
MERGEABLE_STATES = [*WORKING_STATES, CaseState.RESOLVED]
RESOLVE_CUSTOM = {
    "label": _("Resolve"),
    "fields": ["resolution"],
    "required": "resolution",
    "prompt": _("How was it resolved?"),
    "missing": _("Say how the matter was resolved."),
}


@dataclass(frozen=True)
class TransitionInput:
    """What the user typed for a transition; which fields a transition needs is in its `custom`."""

    resolution: str = ""
    reason: str = ""


class Team(models.Model):
    """A group of agents that works one queue."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="teams", verbose_name=_("members")
    )

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CaseType(models.Model):
    """A kind of matter (billing question, move, cancellation ...), edited by admins."""

    name_de = models.CharField(_("name (German)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100)
    category = models.CharField(
        _("category"), max_length=20, choices=CaseCategory.choices, default=CaseCategory.QUESTION
    )
    default_team = models.ForeignKey(
        Team,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("default team"),
    )
    default_priority = models.PositiveSmallIntegerField(
        _("default priority"), choices=Priority.choices, default=Priority.NORMAL
    )
    process = models.ForeignKey(
        "guidance.ProcessDefinition",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("guided process"),
        help_text=_("The process agents are guided through on cases of this type."),
    )

    class Meta:
        verbose_name = _("case type")
        verbose_name_plural = _("case types")
        ordering = ["name_en"]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.name_de if get_language() == "de" else self.name_en


class GermanState(models.TextChoices):
    """For public holidays: the nationwide ones plus the chosen state's."""

    BW = "BW", "Baden-Württemberg"
    BY = "BY", "Bayern"
    BE = "BE", "Berlin"
    BB = "BB", "Brandenburg"
    HB = "HB", "Bremen"
    HH = "HH", "Hamburg"
    HE = "HE", "Hessen"
    MV = "MV", "Mecklenburg-Vorpommern"
    NI = "NI", "Niedersachsen"
    NW = "NW", "Nordrhein-Westfalen"
    RP = "RP", "Rheinland-Pfalz"
    SL = "SL", "Saarland"
    SN = "SN", "Sachsen"
    ST = "ST", "Sachsen-Anhalt"
    SH = "SH", "Schleswig-Holstein"
    TH = "TH", "Thüringen"


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


def validate_time_zone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(_("Unknown time zone: %(zone)s"), params={"zone": value}) from None


class BusinessCalendar(models.Model):
    """When SLA clocks run: working hours per weekday, a time zone and public holidays."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Europe/Berlin", validators=[validate_time_zone]
    )
    german_state = models.CharField(
        _("German state"),
        max_length=2,
        choices=GermanState.choices,
        blank=True,
        help_text=_("Public holidays of Germany, plus this state's own."),
    )

    class Meta:
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def business_hours(self) -> BusinessHours:
        hours: dict[int, list[tuple[time, time]]] = {}
        rows = self.working_hours.all()  # prefetched where many calendars are read
        for row in sorted(rows, key=lambda row: (row.weekday, row.opens)):
            hours.setdefault(row.weekday, []).append((row.opens, row.closes))
        return BusinessHours(
            tz=ZoneInfo(self.time_zone),
            hours={day: tuple(rows) for day, rows in hours.items()},
            holidays=german_holidays(self.german_state),
        )


class WorkingHours(models.Model):
    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="working_hours"
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    opens = models.TimeField(_("opens"))
    closes = models.TimeField(_("closes"))

    class Meta:
        verbose_name = _("working hours")
        verbose_name_plural = _("working hours")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(closes__gt=models.F("opens")),
                name="workinghours_closes_after_opens",
                violation_error_message=_("The closing time must be after the opening time."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}"


class SlaPolicy(models.Model):
    """Response and resolution targets, in working minutes, for a case type and priority."""

    case_type = models.ForeignKey(
        CaseType, on_delete=models.CASCADE, related_name="sla_policies", verbose_name=_("case type")
    )
    priority = models.PositiveSmallIntegerField(_("priority"), choices=Priority.choices)
    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.PROTECT, related_name="+", verbose_name=_("calendar")
    )
    first_response_minutes = models.PositiveIntegerField(_("first response within (minutes)"))
    resolution_minutes = models.PositiveIntegerField(_("resolution within (minutes)"))
    warn_percent = models.PositiveSmallIntegerField(
        _("warn at (% of the target)"),
        default=80,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
    )

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        constraints = [
            models.UniqueConstraint(fields=["case_type", "priority"], name="slapolicy_type_prio")
        ]

    def __str__(self) -> str:
        return f"{self.case_type} / {self.get_priority_display()}"

    def deadlines(self, start: datetime) -> tuple[datetime, datetime]:
        """When the first response and the resolution are due for a case opened at `start`."""
        hours = self.calendar.business_hours()
        return (
            deadline_after(hours, start, self.first_response_minutes),
            deadline_after(hours, start, self.resolution_minutes),
        )


class CaseQuerySet(models.QuerySet["Case"]):
    def active(self) -> CaseQuerySet:
        return self.filter(state__in=ACTIVE_STATES)

    def waiting(self) -> CaseQuerySet:
        """Cases in a team's queue: nobody's yet, in a state that waits for an agent."""
        return self.filter(assignee__isnull=True, state__in=QUEUE_STATES)

    def assigned_to(self, user: object) -> CaseQuerySet:
        return self.filter(assignee=user)

    def queue_order(self) -> CaseQuerySet:
        """The SLA that runs out first, then the highest priority, then the oldest case."""
        due = models.F("resolution_due").asc(nulls_last=True)
        return self.order_by(due, "priority", "created_at", "id")


def reopen_window_open(case: Case) -> bool:
    if case.resolved_at is None:
        return True
    days = settings.CPM_CASE_REOPEN_DAYS
    return timezone.now() - case.resolved_at <= timedelta(days=days)


reopen_window_open.message = _(  # type: ignore[attr-defined]
    "This case was resolved more than %(days)s days ago and can no longer be reopened. "
    "Open a new related case instead."
)


def is_merged(case: Case) -> bool:
    return case.merged_into_id is not None


is_merged.message = _("This case was not merged into another one.")  # type: ignore[attr-defined]


class CaseHistoryManager(HistoryManager):
    """simple-history's manager, whose class is built once instead of on every `.history`
    (every save reaches it for the history row: about a tenth of a transition's CPU)."""

    @classmethod
    @functools.cache
    def from_queryset(cls, queryset_class, class_name=None):
        return super().from_queryset(queryset_class, class_name)


class Case(ConcurrentTransitionMixin, models.Model):
    """A customer's matter with an enforced life cycle.

    The state is protected: it changes only through the transitions below, each fired by
    `cases.services.case_transition`, which checks permission, saves and records the event.
    Each transition's `custom` says what the screen asks for: `label`, `fields` (the text
    fields it takes), `required` (the field that must not be empty), `prompt` and `missing`
    (the message when the required field is empty).
    """

    reference = models.CharField(_("reference"), max_length=20, unique=True)
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="cases", verbose_name=_("customer")
    )
    subject = models.CharField(_("subject"), max_length=200)
    state = FSMField(
        _("state"), default=CaseState.NEW, choices=CaseState.choices, protected=True, db_index=True
    )
    case_type = models.ForeignKey(
        CaseType,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="cases",
        verbose_name=_("case type"),
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=Priority.choices, default=Priority.NORMAL
    )
    team = models.ForeignKey(
        Team,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="cases",
        verbose_name=_("team"),
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_cases",
        verbose_name=_("assignee"),
    )
    resolution = models.TextField(_("resolution"), blank=True, max_length=5000)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    escalation_reason = models.TextField(_("escalation reason"), blank=True, max_length=5000)
    escalated_at = models.DateTimeField(_("escalated"), null=True, blank=True)
    escalated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("escalated by"),
    )
    instruction = models.TextField(_("supervisor's instruction"), blank=True, max_length=5000)
    # SLA clock (cases.services.sla_*): due instants in real time, moved when the clock pauses.
    sla_policy = models.ForeignKey(
        "SlaPolicy",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("SLA policy"),
    )
    response_due = models.DateTimeField(_("first response due"), null=True, blank=True)
    responded_at = models.DateTimeField(_("first response"), null=True, blank=True)
    resolution_due = models.DateTimeField(_("resolution due"), null=True, blank=True)
    sla_warn_at = models.DateTimeField(_("SLA warning at"), null=True, blank=True)
    sla_paused_at = models.DateTimeField(_("SLA clock paused"), null=True, blank=True)
    sla_warned_at = models.DateTimeField(_("SLA warned"), null=True, blank=True)
    sla_breached_at = models.DateTimeField(_("SLA breached"), null=True, blank=True)
    # Set by the `merge` transition (cases.services.case_merge), cleared by `unmerge`.
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="merged_cases",
        verbose_name=_("merged into"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    history = HistoricalRecords(history_manager=CaseHistoryManager)
    objects = CaseQuerySet.as_manager()

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        permissions = [
            ("close_case", _("Can close resolved cases")),
            ("cancel_case", _("Can cancel cases")),
            ("handle_escalation", _("Can work escalated cases")),
        ]
        indexes = [
            models.Index(fields=["state", "-created_at"], name="case_state_created_idx"),
            models.Index(
                fields=["team", "resolution_due", "priority", "created_at", "id"],
                condition=models.Q(assignee__isnull=True, state__in=QUEUE_STATES),
                name="case_team_queue_sla_idx",
            ),
            models.Index(fields=["state", "-escalated_at"], name="case_escalated_idx"),
            models.Index(
                fields=["sla_warn_at"],
                condition=models.Q(sla_warned_at__isnull=True, sla_paused_at__isnull=True),
                name="case_sla_warn_idx",
            ),
            models.Index(
                fields=["resolution_due"],
                condition=models.Q(sla_breached_at__isnull=True, sla_paused_at__isnull=True),
                name="case_sla_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.subject}"

    def get_absolute_url(self) -> str:
        return reverse("cases:case-detail", args=[self.reference])

    @property
    def state_label(self) -> str:
        """`get_state_display` without building the choices' dict again for every row."""
        return str(CaseState(self.state).label)

    @property
    def priority_label(self) -> str:
        return str(Priority(self.priority).label)

    @property
    def sla_status(self) -> str:
        """ "", "paused", "breached", "at-risk" or "ok", for the countdown's colour."""
        if self.resolution_due is None or self.state not in ACTIVE_STATES:
            return ""
        if self.sla_paused_at is not None:
            return "paused"
        if self.sla_breached_at is not None or self.resolution_due <= timezone.now():
            return "breached"
        return "at-risk" if self.sla_warned_at is not None else "ok"

    @transition(
        field=state,
        source=CaseState.NEW,
        target=CaseState.OPEN,
        permission=WORK_PERMISSION,
        custom={"label": _("Open"), "fields": []},
    )
    def open(self, *, by: AbstractBaseUser, data: TransitionInput) -> None:
        pass

    @transition(
        field=state,
        source=CaseState.OPEN,
        target=CaseState.WAITING_CUSTOMER,
        permission=WORK_PERMISSION,
        custom={"label": _("Wait for customer"), "fields": []},
    )
    def wait_for_customer(self, *, by: AbstractBaseUser, data: TransitionInput) -> None:
        pass

    @transition(
        field=state,
        source=CaseState.OPEN,
        target=CaseState.WAITING_THIRD_PARTY,
        permission=WORK_PERMISSION,
        custom={"label": _("Wait for third party"), "fields": []},
    )
    def wait_for_third_party(self, *, by: AbstractBaseUser, data: TransitionInput) -> None:
        pass

    @transition(
        field=state,
        source=[CaseState.WAITING_CUSTOMER, CaseState.WAITING_THIRD_PARTY],
        target=CaseState.OPEN,
        permission=WORK_PERMISSION,
        custom={"label": _("Resume"), "fields": []},
    )
    def resume(self, *, by: AbstractBaseUser, data: TransitionInput) -> None:
        pass

    @transition(
        field=state,
        source=WORKING_STATES,
        target=CaseState.ESCALATED,
        permission=WORK_PERMISSION,
        custom={
            "label": _("Escalate"),
            "fields": ["reason"],
            "required": "reason",
            "prompt": _("Why does a supervisor need to step in?"),
            "missing": _("Say why the case is escalated."),
        },
    )
    def escalate(self, *, by: AbstractBaseUser, data: TransitionInput) -> None:
        self.escalation_reason = data.reason
        self.escalated_at = timezone.now()
        self.escalated_by = by
        self.instruction = ""

    @transition(
        field=state,
        source=CaseState.ESCALATED,
        target=CaseState.ESCALATED,
        permission=ESCALATION_PERMISSION,
        custom={"label": _("Take over"), "fields": []},
    )
    def take_over(self, *, by: AbstractBaseUser, data: TransitionInput) -> None:
        self.assignee = by

    @transition(
        field=state,
        source=CaseState.ESCALATED,
        target=CaseState.OPEN,
        permission=ESCALATION_PERMISSION,
        custom={
            "label": _("Return with instruction"),
            "fields": ["reason"],
            "required": "reason",
            "prompt": _("What should the agent do?"),
            "missing": _("Give the agent an instruction."),
        },
    )
    def de_escalate(self, *, by: AbstractBaseUser, data: TransitionInput) -> None:
        self.instruction = data.reason
        self.assignee = self.escalated_by or self.assignee

    @transition(
        field=state,
        source=CaseState.OPEN,
        target=CaseState.RESOLVED,
        permission=WORK_PERMISSION,
        custom=RESOLVE_CUSTOM,
    )
    @transition(
        field=state,
        source=CaseState.ESCALATED,
        target=CaseState.RESOLVED,
        permission=ESCALATION_PERMISSION,
        custom=RESOLVE_CUSTOM,
    )
    def resolve(self, *, by: AbstractBaseUser, data: TransitionInput) -> None:
        self.resolution = data.resolution
        self.resolved_at = timezone.now()

    @transition(
        field=state,
        source=CaseState.RESOLVED,
        target=CaseState.OPEN,
        permission=WORK_PERMISSION,
        conditions=[reopen_window_open],
        custom={
            "label": _("Reopen"),
            "fields": ["reason"],
            "required": "reason",
            "prompt": _("Why?"),
            "missing": _("Say why the case is reopened."),
        },
    )
    def reopen(self, *, by: AbstractBaseUser, data: TransitionInput) -> None:
        self.resolution = ""
        self.resolved_at = None

    @transition(
        field=state,
        source=CaseState.RESOLVED,
        target=CaseState.CLOSED,
        permission=CLOSE_PERMISSION,
        custom={"label": _("Close"), "fields": []},
    )
    def close(self, *, by: AbstractBaseUser, data: TransitionInput) -> None:
        pass

    @transition(
        field=state,
        source=ACTIVE_STATES,
        target=CaseState.CANCELLED,
        permission=CANCEL_PERMISSION,
        custom={
            "label": _("Cancel case"),
            "fields": ["reason"],
            "required": "reason",
            "prompt": _("Why is the case cancelled?"),
            "missing": _("Say why the case is cancelled."),
        },
    )
    def cancel(self, *, by: AbstractBaseUser, data: TransitionInput) -> None:
        pass

    # Merging has its own service and form (`cases.services.case_merge` / `case_unmerge`):
    # `service` keeps these two off the generic transition buttons and `case_transition`.
    @transition(
        field=state,
        source=MERGEABLE_STATES,
        target=CaseState.CLOSED,
        permission=WORK_PERMISSION,
        custom={"label": _("Merge into another case"), "fields": [], "service": "case_merge"},
    )
    @transition(
        field=state,
        source=CaseState.ESCALATED,
        target=CaseState.CLOSED,
        permission=ESCALATION_PERMISSION,
        custom={"label": _("Merge into another case"), "fields": [], "service": "case_merge"},
    )
    def merge(self, *, by: AbstractBaseUser, data: TransitionInput, into: Case) -> None:
        self.merged_into = into
        self.resolution = data.resolution

    @transition(
        field=state,
        source=CaseState.CLOSED,
        target=RETURN_VALUE(*MERGEABLE_STATES, CaseState.ESCALATED),
        permission=UNMERGE_PERMISSION,
        conditions=[is_merged],
        custom={"label": _("Undo merge"), "fields": [], "service": "case_unmerge"},
    )
    def unmerge(self, *, by: AbstractBaseUser, data: TransitionInput, merge: CaseMerge) -> str:
        """Back to the state, resolution and resolve time the case had before the merge."""
        self.merged_into = None
        self.resolution = merge.resolution_before
        self.resolved_at = merge.resolved_at_before
        return merge.state_before

    open.alters_data = True  # type: ignore[attr-defined]
    merge.alters_data = True  # type: ignore[attr-defined]
    unmerge.alters_data = True  # type: ignore[attr-defined]
    wait_for_customer.alters_data = True  # type: ignore[attr-defined]
    wait_for_third_party.alters_data = True  # type: ignore[attr-defined]
    resume.alters_data = True  # type: ignore[attr-defined]
    escalate.alters_data = True  # type: ignore[attr-defined]
    take_over.alters_data = True  # type: ignore[attr-defined]
    de_escalate.alters_data = True  # type: ignore[attr-defined]
    resolve.alters_data = True  # type: ignore[attr-defined]
    reopen.alters_data = True  # type: ignore[attr-defined]
    close.alters_data = True  # type: ignore[attr-defined]
    cancel.alters_data = True  # type: ignore[attr-defined]


class CaseEventKind(models.TextChoices):
    CREATED = "created", _("Created")
    TRANSITION = "transition", _("Transition")
    NOTE = "note", _("Note")
    ASSIGNED = "assigned", _("Assigned")
    SLA = "sla", _("SLA clock")
    EXCEPTION = "exception", _("Exception")
    REPLY = "reply", _("Reply to the customer")
    MOVED_IN = "moved_in", _("Message moved here")
    MOVED_OUT = "moved_out", _("Message moved away")


class SlaChange(models.TextChoices):
    """What happened to a case's SLA clock; kept in `CaseEvent.transition` for kind "sla"."""

    STARTED = "started", _("clock started")
    PAUSED = "paused", _("clock paused (waiting on customer)")
    RESUMED = "resumed", _("clock resumed")
    STOPPED = "stopped", _("clock stopped")
    WARNED = "warned", _("at risk: priority raised")
    BREACHED = "breached", _("breached: sent to the supervisors")


class CaseEvent(models.Model):
    """Something that happened to a case: who, when, from which state to which, and why."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=12, choices=CaseEventKind.choices)
    transition = models.CharField(_("transition"), max_length=40, blank=True)
    source = models.CharField(_("from"), max_length=20, blank=True)
    target = models.CharField(_("to"), max_length=20, blank=True)
    reason = models.TextField(_("reason"), blank=True, max_length=5000)
    # For assignments: who and which team the case went to.
    team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    at = models.DateTimeField(_("at"), default=timezone.now)
    # For SLA clock changes: the resolution due after the change.
    due = models.DateTimeField(_("due"), null=True, blank=True)

    class Meta:
        verbose_name = _("case event")
        verbose_name_plural = _("case events")
        indexes = [models.Index(fields=["case", "-at"], name="caseevent_case_at_idx")]

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind} {self.source}->{self.target}"

    @property
    def sla_label(self) -> str:
        return SlaChange(self.transition).label if self.kind == CaseEventKind.SLA else ""

    @property
    def source_label(self) -> str:
        return str(CaseState(self.source).label) if self.source else ""

    @property
    def target_label(self) -> str:
        return str(CaseState(self.target).label) if self.target else ""


class ExceptionItem(models.Model):
    """Something an automation could not decide ("needs a human"), with the reason.

    Supervisors work these in the escalation inbox; `cases.services.exception_raise` is the one
    way in, so nothing that fails for good fails silently.
    """

    case = models.ForeignKey(
        Case,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="exceptions",
        verbose_name=_("case"),
    )
    source = models.CharField(_("raised by"), max_length=40)
    reason = models.TextField(_("reason"), max_length=5000)
    raised_at = models.DateTimeField(_("raised"), default=timezone.now)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decision = models.TextField(_("decision"), blank=True, max_length=5000)

    class Meta:
        verbose_name = _("exception")
        verbose_name_plural = _("exceptions")
        indexes = [
            models.Index(
                fields=["-raised_at"],
                condition=models.Q(decided_at__isnull=True),
                name="exception_open_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.source}: {self.reason[:60]}"


class CaseLinkKind(models.TextChoices):
    RELATED = "related", _("related")
    FOLLOW_UP = "follow_up", _("follow-up")
    DUPLICATE = "duplicate", _("duplicate")


class CaseLink(models.Model):
    """Two cases that belong together; shown on both. `source` is where it was made."""

    source = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="links_out")
    target = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="links_in")
    kind = models.CharField(
        _("kind"), max_length=12, choices=CaseLinkKind.choices, default=CaseLinkKind.RELATED
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("case link")
        verbose_name_plural = _("case links")
        constraints = [
            models.UniqueConstraint(fields=["source", "target"], name="caselink_unique"),
            models.CheckConstraint(
                condition=~models.Q(source=models.F("target")), name="caselink_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source_id} -> {self.target_id} ({self.kind})"


class CaseMerge(models.Model):
    """Case `duplicate` merged into `target`: what it was before and what moved, for the undo.

    `moved` holds the ids that moved to the target (`interactions`, `inbound_messages`) and
    the duplicate link the merge made or changed (`link`, `link_kind_before`: "" when the
    merge created it). One merge per duplicate is in force at a time (`undone_at` empty).
    """

    duplicate = models.ForeignKey(
        Case, on_delete=models.CASCADE, related_name="merges_out", verbose_name=_("duplicate")
    )
    target = models.ForeignKey(
        Case, on_delete=models.CASCADE, related_name="merges_in", verbose_name=_("merged into")
    )
    state_before = models.CharField(_("state before"), max_length=20, choices=CaseState.choices)
    resolution_before = models.TextField(blank=True, max_length=5000)
    resolved_at_before = models.DateTimeField(null=True, blank=True)
    moved = models.JSONField(_("moved records"), default=dict)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    at = models.DateTimeField(_("merged"), default=timezone.now)
    undone_at = models.DateTimeField(_("undone"), null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("case merge")
        verbose_name_plural = _("case merges")
        permissions = [("undo_casemerge", _("Can undo case merges"))]
        constraints = [
            models.UniqueConstraint(
                fields=["duplicate"],
                condition=models.Q(undone_at__isnull=True),
                name="casemerge_one_in_force_per_duplicate",
            ),
            models.CheckConstraint(
                condition=~models.Q(duplicate=models.F("target")), name="casemerge_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.duplicate_id} -> {self.target_id}"


class RunStatus(models.TextChoices):
    ACTIVE = "active", _("In progress")
    WAITING_DECISION = "waiting", _("Waiting for a decision")
    DONE = "done", _("Done")
    ABANDONED = "abandoned", _("Abandoned")  # its case was merged into another one


# A case has at most one run that is not finished.
FINISHED_RUN_STATUSES = [RunStatus.DONE, RunStatus.ABANDONED]


class GuidedRun(models.Model):
    """An agent's progress through a process on a case, on the version it started with.

    `revision` grows with every change, so a step submitted from a stale screen is refused
    instead of overwriting what a colleague did meanwhile.
    """

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="guided_runs")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    version = models.ForeignKey(
        "guidance.ProcessVersion", on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        _("status"), max_length=10, choices=RunStatus.choices, default=RunStatus.ACTIVE
    )
    current_step = models.CharField(_("current step"), max_length=60)
    path = models.JSONField(_("steps done"), default=list)
    answers = models.JSONField(_("answers"), default=dict)
    pending_step = models.CharField(max_length=60, blank=True)
    exception_reason = models.TextField(_("exception"), blank=True, max_length=2000)
    decision_note = models.TextField(_("decision"), blank=True, max_length=2000)
    manual_tasks = models.JSONField(_("to do by hand"), default=list)
    revision = models.PositiveIntegerField(default=0)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        verbose_name = _("guided run")
        verbose_name_plural = _("guided runs")
        permissions = [("decide_guidedrun", _("Can decide exceptions in guided runs"))]
        constraints = [
            models.UniqueConstraint(
                fields=["case"],
                condition=~models.Q(status__in=["done", "abandoned"]),
                name="one_unfinished_run_per_case",
            )
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.current_step} ({self.status})"


class GuidedStepRecord(models.Model):
    """One step of a run as it happened: the answers, who, when, how long, and what followed."""

    class Kind(models.TextChoices):
        COMPLETED = "completed", _("Completed")
        BACK = "back", _("Went back")
        DECIDED = "decided", _("Decided")
        ABANDONED = "abandoned", _("Abandoned")

    run = models.ForeignKey(GuidedRun, on_delete=models.CASCADE, related_name="records")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    step_key = models.CharField(max_length=60)
    answers = models.JSONField(default=dict)
    next_step = models.CharField(max_length=60, blank=True)
    route_condition = models.TextField(blank=True)
    actions = models.JSONField(default=list)
    note = models.TextField(blank=True, max_length=2000)
    seconds_spent = models.PositiveIntegerField(null=True, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("guided step")
        verbose_name_plural = _("guided steps")
        ordering = ["run", "at", "id"]

    def __str__(self) -> str:
        return f"{self.run_id} {self.step_key} {self.kind}"


class InboundChannel(models.TextChoices):
    """The channels that deliver messages through the intake API (`/api/v1/inbound/<channel>`)."""

    EMAIL = "email", _("E-mail")
    SMS = "sms", _("SMS")
    CHAT = "chat", _("Chat")
    SOCIAL = "social", _("Social media")
    PHONE = "phone", _("Phone")
    WEBFORM = "webform", _("Web form")


class ChannelKey(models.Model):
    """A credential of one channel's gateway for the intake API.

    Only the SHA-256 of the key is stored (the key is random and long, so a slow hash adds
    nothing); the key itself is shown once, when it is made. With `require_signature` every
    request must also carry an HMAC of its body made with the key (`cases.intake`).
    """

    channel = models.CharField(_("channel"), max_length=10, choices=InboundChannel.choices)
    name = models.CharField(_("name"), max_length=100, help_text=_("Who uses this key."))
    prefix = models.CharField(_("key starts with"), max_length=24, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    require_signature = models.BooleanField(
        _("require signed requests"),
        default=False,
        help_text=_("Refuse requests without a valid X-CPM-Signature and X-CPM-Timestamp."),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("channel key")
        verbose_name_plural = _("channel keys")
        ordering = ["channel", "name", "id"]

    def __str__(self) -> str:
        return f"{self.get_channel_display()}: {self.name} ({self.prefix}…)"


class UsedSignature(models.Model):
    """A request signature seen within the tolerance window, so a replay is refused."""

    digest = models.CharField(max_length=64, unique=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("used signature")
        verbose_name_plural = _("used signatures")

    def __str__(self) -> str:
        return self.digest[:12]


class IntakeRule(models.Model):
    """Which case type a new message opens: the first rule (by position) whose channel and
    keywords match; without a match the "General inquiry" type."""

    position = models.PositiveSmallIntegerField(_("position"), default=100)
    case_type = models.ForeignKey(
        CaseType, on_delete=models.CASCADE, related_name="intake_rules", verbose_name=_("case type")
    )
    channel = models.CharField(
        _("channel"),
        max_length=10,
        choices=InboundChannel.choices,
        blank=True,
        help_text=_("Empty: any channel."),
    )
    keywords = models.CharField(
        _("keywords"),
        max_length=500,
        blank=True,
        help_text=_("Comma-separated; one in the subject or text is enough. Empty: any text."),
    )

    class Meta:
        verbose_name = _("intake rule")
        verbose_name_plural = _("intake rules")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.position}: {self.keywords or '*'} -> {self.case_type}"

    def keyword_list(self) -> list[str]:
        return [word.strip().lower() for word in self.keywords.split(",") if word.strip()]


class InboundStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    PROCESSED = "processed", _("Processed")
    FAILED = "failed", _("Failed")


class AttachReason(models.TextChoices):
    """Why intake put a message on its case (shown on the case, in the agent's language)."""

    CASE_REF = "case_ref", _("case reference given by the channel")
    REF_SUBJECT = "ref_subject", _("reference in the subject")
    REF_TEXT = "ref_text", _("reference in the text")
    REPLY = "reply", _("reply to a message of this case")
    OPEN_CASE = "open_case", _("same customer, open case (%(type)s), %(days)s days")
    NEW_CASE = "new_case", _("new case (%(type)s)")


class InboundMessage(models.Model):
    """A message as a channel delivered it, stored before anything else happens to it.

    `(channel, external_id)` is unique, so a redelivered message is recognised by the
    database, not by a check-then-insert. `reason` says why the message went to its case;
    `needs_confirmation` marks a case reference quoted by a sender who is not a known
    contact of that case's customer (a reference is not a password).
    """

    channel = models.CharField(_("channel"), max_length=10, choices=InboundChannel.choices)
    external_id = models.CharField(_("message id"), max_length=200)
    payload = models.JSONField(_("payload"))
    status = models.CharField(
        _("status"), max_length=10, choices=InboundStatus.choices, default=InboundStatus.RECEIVED
    )
    error = models.TextField(_("error"), blank=True)
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)
    key = models.ForeignKey(
        ChannelKey, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    case = models.ForeignKey(
        Case, on_delete=models.SET_NULL, null=True, blank=True, related_name="inbound_messages"
    )
    interaction = models.ForeignKey(
        "customers.Interaction",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    reason = models.CharField(
        _("why this case"), max_length=20, choices=AttachReason.choices, blank=True
    )
    # The case type's names and the days since the case was last active, for `reason_display`.
    reason_params = models.JSONField(default=dict, blank=True)
    needs_confirmation = models.BooleanField(_("to confirm"), default=False)
    exception = models.ForeignKey(
        ExceptionItem, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The move that put the message on its current case (None: intake put it there), so the
    # case screen says "moved here by ... from ..." and offers Undo without another query.
    last_move = models.ForeignKey(
        "MessageMove", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("inbound message")
        verbose_name_plural = _("inbound messages")
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"], name="inboundmessage_unique_per_channel"
            )
        ]
        indexes = [
            models.Index(fields=["case", "received_at"], name="inbound_case_idx"),
            models.Index(fields=["external_id"], name="inbound_external_id_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.external_id} ({self.status})"

    @property
    def reason_display(self) -> str:
        if not self.reason:
            return ""
        params = self.reason_params or {}
        type_name = params.get("type_de" if get_language() == "de" else "type_en") or "-"
        text = str(AttachReason(self.reason).label) % {
            "type": type_name,
            "days": params.get("days", 0),
        }
        if self.needs_confirmation:
            return str(
                _("%(reason)s; the sender is not a known contact of this customer: confirm")
                % {"reason": text}
            )
        return text


class StatusNotice(models.Model):
    """A case state the customer is told about when a case reaches it (customer-visible).

    Without a case type it holds for every type. The wording is in `cases.outbox`, in the
    customer's language. Transitions read these from memory (`cases.notices`): saving or
    deleting one sends the signals that drop that copy.
    """

    case_type = models.ForeignKey(
        CaseType,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="status_notices",
        verbose_name=_("case type"),
        help_text=_("Empty: every case type."),
    )
    state = models.CharField(_("state"), max_length=20, choices=CaseState.choices)

    class Meta:
        verbose_name = _("status notification")
        verbose_name_plural = _("status notifications")
        constraints = [
            models.UniqueConstraint(fields=["case_type", "state"], name="statusnotice_unique")
        ]

    def __str__(self) -> str:
        return f"{self.case_type or '*'}: {self.state}"


class OutboundStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class OutboundMessage(models.Model):
    """The outbox: a message to a customer, written in the transaction of what caused it.

    The idempotency key (unique) makes "at most one message per cause" a database rule; the
    delivery task sends it once and records it on the timeline (`cases.outbox`).
    """

    idempotency_key = models.CharField(max_length=100, unique=True)
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="+", verbose_name=_("customer")
    )
    case = models.ForeignKey(
        Case, on_delete=models.SET_NULL, null=True, blank=True, related_name="outbound_messages"
    )
    channel = models.CharField(_("channel"), max_length=10, choices=InboundChannel.choices)
    recipient = models.CharField(_("to"), max_length=200)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    body = models.TextField(_("text"), max_length=5000)
    status = models.CharField(
        _("status"), max_length=10, choices=OutboundStatus.choices, default=OutboundStatus.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    not_before = models.DateTimeField(_("not before"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    interaction = models.ForeignKey(
        "customers.Interaction", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # An agent's reply (None: an automatic notification).
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("outbound message")
        verbose_name_plural = _("outbound messages")
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="outbound_customer_idx"),
            # Acknowledgements per address and hour (cases.outbox.acknowledged_query).
            models.Index(fields=["recipient", "-created_at"], name="outbound_recipient_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.idempotency_key} ({self.status})"


class ReplyTemplate(models.Model):
    """A text an agent starts a reply from, in German and English, edited in Django admin.

    Placeholders are `{customer_name}`, `{case_reference}` and `{next_step}` only
    (`cases.placeholders`): admins write text, never template code.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    position = models.PositiveSmallIntegerField(_("position"), default=100)
    active = models.BooleanField(_("active"), default=True)
    subject_de = models.CharField(_("subject (German)"), max_length=300, blank=True)
    subject_en = models.CharField(_("subject (English)"), max_length=300, blank=True)
    body_de = models.TextField(_("text (German)"), max_length=5000)
    body_en = models.TextField(_("text (English)"), max_length=5000)

    class Meta:
        verbose_name = _("reply template")
        verbose_name_plural = _("reply templates")
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        for field in ("subject_de", "subject_en", "body_de", "body_en"):
            problems = placeholder_problems(getattr(self, field))
            if problems:
                errors[field] = _("Unknown placeholder %(found)s; allowed are %(allowed)s.") % {
                    "found": ", ".join(problems),
                    "allowed": ", ".join(f"{{{name}}}" for name in PLACEHOLDERS),
                }
        if errors:
            raise ValidationError(errors)

    def texts(self, language: str) -> tuple[str, str]:
        """Subject and text in `language` (German or English)."""
        if language == "en":
            return self.subject_en, self.body_en
        return self.subject_de, self.body_de


class MessageMove(models.Model):
    """An inbound message moved by an agent from one case to another; undone at most once.

    Both cases get an event; the message's `last_move` points here while it stays moved.
    """

    message = models.ForeignKey(InboundMessage, on_delete=models.CASCADE, related_name="moves")
    from_case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+")
    to_case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+")
    # Moved out into a case the move itself opened.
    new_case = models.BooleanField(default=False)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("message move")
        verbose_name_plural = _("message moves")
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(from_case=models.F("to_case")), name="messagemove_not_same_case"
            )
        ]

    def __str__(self) -> str:
        return f"{self.message_id}: {self.from_case_id} -> {self.to_case_id}"


class OfferOutcome(models.Model):
    """What happened when an offer met a customer: eligible (once), presented, the answer.

    `control` marks the customer as held out for this offer (guidance.offers decides it
    from the ids), so the report can compare the two groups. `segment` is the customer's
    segment at the time: the ranking learns per offer and segment.
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    offer = models.ForeignKey("guidance.Offer", on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey(
        Case, on_delete=models.SET_NULL, null=True, blank=True, related_name="offer_outcomes"
    )
    result = models.CharField(_("result"), max_length=10, choices=OfferResult.choices)
    decline_reason = models.CharField(
        _("reason"), max_length=20, choices=DeclineReason.choices, blank=True
    )
    segment = models.CharField(_("segment"), max_length=10, blank=True)
    control = models.BooleanField(_("control group"), default=False)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(_("at"), default=timezone.now)
    # The back office's reference once the offer's connector action was done (at most once).
    action_reference = models.CharField(_("back-office reference"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("offer outcome")
        verbose_name_plural = _("offer outcomes")
        ordering = ["-at", "-id"]
        permissions = [("view_offer_report", _("Can see the offers report"))]
        indexes = [
            models.Index(fields=["customer", "at"], name="offer_outcome_customer"),
            models.Index(fields=["offer", "segment", "result"], name="offer_outcome_tally"),
        ]

    def __str__(self) -> str:
        return f"{self.offer_id} {self.customer_id} {self.result}"
