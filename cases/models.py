from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition
from simple_history.models import HistoricalRecords

from customers.models import Customer


class CaseState(models.TextChoices):
    NEW = "new", _("New")
    OPEN = "open", _("Open")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


ACTIVE_STATES = [CaseState.NEW, CaseState.OPEN]
WORK_PERMISSION = "cases.change_case"
CLOSE_PERMISSION = "cases.close_case"


class CaseQuerySet(models.QuerySet["Case"]):
    def active(self) -> CaseQuerySet:
        return self.filter(state__in=ACTIVE_STATES)

    def assigned_to(self, user: object) -> CaseQuerySet:
        return self.filter(assignee=user)


class Case(ConcurrentTransitionMixin, models.Model):
    """A customer's matter with an enforced life cycle.

    The state is protected: it changes only through the transitions below, each fired by
    `cases.services.case_transition`, which checks permission, saves and records the event.
    """

    reference = models.CharField(_("reference"), max_length=20, unique=True)
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="cases", verbose_name=_("customer")
    )
    subject = models.CharField(_("subject"), max_length=200)
    state = FSMField(
        _("state"), default=CaseState.NEW, choices=CaseState.choices, protected=True, db_index=True
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
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    history = HistoricalRecords()
    objects = CaseQuerySet.as_manager()

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        permissions = [("close_case", _("Can close resolved cases"))]
        indexes = [models.Index(fields=["state", "-created_at"], name="case_state_created_idx")]

    def __str__(self) -> str:
        return f"{self.reference} {self.subject}"

    def get_absolute_url(self) -> str:
        return reverse("cases:case-detail", args=[self.reference])

    @transition(
        field=state,
        source=CaseState.NEW,
        target=CaseState.OPEN,
        permission=WORK_PERMISSION,
        custom={"label": _("Open"), "fields": []},
    )
    def open(self) -> None:
        pass

    @transition(
        field=state,
        source=CaseState.OPEN,
        target=CaseState.RESOLVED,
        permission=WORK_PERMISSION,
        custom={"label": _("Resolve"), "fields": ["resolution"]},
    )
    def resolve(self, *, resolution: str) -> None:
        self.resolution = resolution

    @transition(
        field=state,
        source=CaseState.RESOLVED,
        target=CaseState.OPEN,
        permission=WORK_PERMISSION,
        custom={"label": _("Reopen"), "fields": ["reason"]},
    )
    def reopen(self) -> None:
        self.resolution = ""

    @transition(
        field=state,
        source=CaseState.RESOLVED,
        target=CaseState.CLOSED,
        permission=CLOSE_PERMISSION,
        custom={"label": _("Close"), "fields": []},
    )
    def close(self) -> None:
        pass

    open.alters_data = True  # type: ignore[attr-defined]
    resolve.alters_data = True  # type: ignore[attr-defined]
    reopen.alters_data = True  # type: ignore[attr-defined]
    close.alters_data = True  # type: ignore[attr-defined]


class CaseEventKind(models.TextChoices):
    CREATED = "created", _("Created")
    TRANSITION = "transition", _("Transition")
    NOTE = "note", _("Note")


class CaseEvent(models.Model):
    """Something that happened to a case: who, when, from which state to which, and why."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=12, choices=CaseEventKind.choices)
    transition = models.CharField(_("transition"), max_length=40, blank=True)
    source = models.CharField(_("from"), max_length=20, blank=True)
    target = models.CharField(_("to"), max_length=20, blank=True)
    reason = models.TextField(_("reason"), blank=True, max_length=5000)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("case event")
        verbose_name_plural = _("case events")
        indexes = [models.Index(fields=["case", "-at"], name="caseevent_case_at_idx")]

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind} {self.source}->{self.target}"

    @property
    def source_label(self) -> str:
        return str(CaseState(self.source).label) if self.source else ""

    @property
    def target_label(self) -> str:
        return str(CaseState(self.target).label) if self.target else ""


class RunStatus(models.TextChoices):
    ACTIVE = "active", _("In progress")
    WAITING_DECISION = "waiting", _("Waiting for a decision")
    DONE = "done", _("Done")


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
                condition=~models.Q(status="done"),
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
