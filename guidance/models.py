"""Process definitions: what steps a matter goes through, with work instructions and rules.

A definition has versions. A draft may be edited; publishing freezes it (a published
version never changes) and retires the one before. Guided runs keep the version they
started with, so editing never changes a case already in progress.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class Bilingual(models.Model):
    """Texts kept in German and English; `text("title")` picks the user's language."""

    class Meta:
        abstract = True

    def text(self, name: str, language: str | None = None) -> str:
        language = (language or get_language() or "en")[:2]
        preferred = getattr(self, f"{name}_{language}", "")
        return preferred or getattr(self, f"{name}_en", "") or getattr(self, f"{name}_de", "")


class ProcessDefinition(Bilingual):
    key = models.SlugField(_("key"), max_length=60, unique=True)
    name_de = models.CharField(_("name (German)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200)
    description = models.TextField(_("description"), blank=True, max_length=5000)

    class Meta:
        verbose_name = _("process")
        verbose_name_plural = _("processes")
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key

    @property
    def name(self) -> str:
        return self.text("name")


class VersionStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
    RETIRED = "retired", _("Retired")


class ProcessVersionQuerySet(models.QuerySet["ProcessVersion"]):
    def published(self) -> ProcessVersionQuerySet:
        return self.filter(status=VersionStatus.PUBLISHED)


class ProcessVersion(models.Model):
    definition = models.ForeignKey(
        ProcessDefinition, on_delete=models.CASCADE, related_name="versions"
    )
    number = models.PositiveIntegerField(_("version"))
    status = models.CharField(
        _("status"), max_length=10, choices=VersionStatus.choices, default=VersionStatus.DRAFT
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    published_at = models.DateTimeField(_("published"), null=True, blank=True)
    note = models.CharField(_("change note"), max_length=300, blank=True)

    objects = ProcessVersionQuerySet.as_manager()

    class Meta:
        verbose_name = _("process version")
        verbose_name_plural = _("process versions")
        ordering = ["definition", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["definition", "number"], name="version_number_unique"),
            models.UniqueConstraint(
                fields=["definition"],
                condition=Q(status="published"),
                name="one_published_version",
            ),
            models.UniqueConstraint(
                fields=["definition"], condition=Q(status="draft"), name="one_draft_version"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.definition.key} v{self.number} ({self.status})"

    @property
    def is_editable(self) -> bool:
        return self.status == VersionStatus.DRAFT


class StepKind(models.TextChoices):
    INSTRUCTION = "instruction", _("Instruction")
    FORM = "form", _("Form")
    DECISION = "decision", _("Decision")
    CHECK = "check", _("Check")
    ACTION = "action", _("Action")
    END = "end", _("End")


class Step(Bilingual):
    version = models.ForeignKey(ProcessVersion, on_delete=models.CASCADE, related_name="steps")
    key = models.SlugField(_("key"), max_length=60)
    position = models.PositiveIntegerField(_("position"))
    kind = models.CharField(_("kind"), max_length=12, choices=StepKind.choices)
    title_de = models.CharField(_("title (German)"), max_length=200)
    title_en = models.CharField(_("title (English)"), max_length=200)
    instruction_de = models.TextField(_("work instruction (German)"), blank=True, max_length=20000)
    instruction_en = models.TextField(_("work instruction (English)"), blank=True, max_length=20000)

    class Meta:
        verbose_name = _("step")
        verbose_name_plural = _("steps")
        ordering = ["version", "position"]
        constraints = [
            models.UniqueConstraint(fields=["version", "key"], name="step_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.kind})"

    @property
    def title(self) -> str:
        return self.text("title")


class FieldType(models.TextChoices):
    TEXT = "text", _("Text")
    LONG_TEXT = "long_text", _("Long text")
    NUMBER = "number", _("Number")
    MONEY = "money", _("Amount of money")
    DATE = "date", _("Date")
    CHOICE = "choice", _("Choice")
    YES_NO = "yes_no", _("Yes/no")
    IBAN = "iban", _("IBAN")
    EMAIL = "email", _("E-mail address")
    PHONE = "phone", _("Phone number")


class StepField(Bilingual):
    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="fields")
    key = models.SlugField(_("key"), max_length=60)
    position = models.PositiveIntegerField(_("position"))
    type = models.CharField(_("type"), max_length=10, choices=FieldType.choices)
    label_de = models.CharField(_("label (German)"), max_length=200)
    label_en = models.CharField(_("label (English)"), max_length=200)
    required = models.BooleanField(_("required"), default=True)
    choices = models.JSONField(_("choices"), default=list, blank=True)
    min_value = models.DecimalField(
        _("minimum"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    max_value = models.DecimalField(
        _("maximum"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    max_length = models.PositiveIntegerField(_("maximum length"), null=True, blank=True)

    class Meta:
        verbose_name = _("field")
        verbose_name_plural = _("fields")
        ordering = ["step", "position"]
        constraints = [models.UniqueConstraint(fields=["step", "key"], name="field_key_unique")]

    def __str__(self) -> str:
        return self.key

    @property
    def label(self) -> str:
        return self.text("label")


class Route(models.Model):
    """Where to go after a step: the first route whose condition holds; no condition = default."""

    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="routes")
    position = models.PositiveIntegerField(_("position"))
    condition = models.TextField(_("condition"), blank=True, max_length=2000)
    target = models.SlugField(_("next step"), max_length=60)

    class Meta:
        verbose_name = _("route")
        verbose_name_plural = _("routes")
        ordering = ["step", "position"]

    def __str__(self) -> str:
        return f"{self.step.key} -> {self.target}"


class ActionKind(models.TextChoices):
    TRANSITION = "transition", _("Fire a case transition")
    UPDATE_CUSTOMER = "update_customer", _("Update customer data")
    SEND_MESSAGE = "send_message", _("Send a message to the customer")
    FOLLOW_UP = "follow_up", _("Create a follow-up case")
    SET_CASE_FIELD = "set_case_field", _("Set a case field")
    FLAG_EXCEPTION = "flag_exception", _("Flag an exception for a decision")


class StepAction(models.Model):
    """Something to do when a step is completed, if its condition holds.

    Guidance only declares it; `cases` executes it. `params` holds what the kind needs,
    e.g. {"transition": "resolve"} or {"reason": "Goodwill above 50 EUR"}.
    """

    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="actions")
    position = models.PositiveIntegerField(_("position"))
    kind = models.CharField(_("kind"), max_length=16, choices=ActionKind.choices)
    condition = models.TextField(_("condition"), blank=True, max_length=2000)
    params = models.JSONField(_("parameters"), default=dict, blank=True)

    class Meta:
        verbose_name = _("action")
        verbose_name_plural = _("actions")
        ordering = ["step", "position"]

    def __str__(self) -> str:
        return f"{self.step.key}: {self.kind}"
