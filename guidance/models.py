"""Process definitions: what steps a matter goes through, with work instructions and rules.

A definition has versions. A draft may be edited; publishing freezes it (a published
version never changes) and retires the one before. Guided runs keep the version they
started with, so editing never changes a case already in progress.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from customers.connectors.base import ConnectorAction


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


class OfferKind(models.TextChoices):
    SALES = "sales", _("Sales offer")
    SERVICE = "service", _("Service action")


class OfferQuerySet(models.QuerySet["Offer"]):
    def active(self) -> OfferQuerySet:
        return self.filter(active=True)


class Offer(Bilingual):
    """A sales offer or a service action the agent may propose, with its guardrails.

    The rule says who is eligible (the facts of guidance/facts.py); the guardrails (consent,
    complaints, products held, cap, cool-down, control group) are applied by
    guidance.offers, which ranks what is left.
    """

    key = models.SlugField(_("key"), max_length=60, unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=OfferKind.choices)
    name_de = models.CharField(_("name (German)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200)
    pitch_de = models.TextField(_("agent pitch (German)"), blank=True, max_length=2000)
    pitch_en = models.TextField(_("agent pitch (English)"), blank=True, max_length=2000)
    benefit_de = models.CharField(_("customer benefit (German)"), blank=True, max_length=300)
    benefit_en = models.CharField(_("customer benefit (English)"), blank=True, max_length=300)
    rule = models.TextField(
        _("eligibility rule"),
        blank=True,
        max_length=2000,
        help_text=_("In the rule language, over customer, holdings and case; empty: everyone."),
    )
    value_weight = models.DecimalField(
        _("value weight"), max_digits=8, decimal_places=2, default=Decimal("1.00")
    )
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    channels = models.JSONField(
        _("channels"),
        default=list,
        blank=True,
        help_text=_('Channel keys where it may be offered, e.g. ["phone"]; empty: all.'),
    )
    cooldown_days = models.PositiveSmallIntegerField(
        _("cool-down after a decline (days)"), default=30
    )
    cap_count = models.PositiveSmallIntegerField(_("presentations at most"), default=3)
    cap_days = models.PositiveSmallIntegerField(_("per period (days)"), default=90)
    service_recovery = models.BooleanField(
        _("service recovery"),
        default=False,
        help_text=_("May be offered during a complaint or an escalated case."),
    )
    product = models.CharField(
        _("product sold"),
        max_length=100,
        blank=True,
        help_text=_("Customers who hold this product are not offered it."),
    )
    process_key = models.SlugField(_("process to start on acceptance"), max_length=60, blank=True)
    connector_action = models.CharField(
        _("back-office action on acceptance"),
        max_length=30,
        choices=ConnectorAction.choices,
        blank=True,
        help_text=_("Done through the back-office connector when the customer accepts."),
    )
    connector_value = models.CharField(
        _("for the back-office action"),
        max_length=100,
        blank=True,
        help_text=_("The add-on to book (default: the product sold) or the payment method."),
    )
    control_percent = models.PositiveSmallIntegerField(
        _("control group (%)"),
        default=0,
        validators=[MaxValueValidator(50)],
        help_text=_("Share of eligible customers held out, to measure the uplift."),
    )
    active = models.BooleanField(_("active"), default=True)

    objects = OfferQuerySet.as_manager()

    class Meta:
        verbose_name = _("offer")
        verbose_name_plural = _("offers")
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key

    @property
    def connector_action_value(self) -> str:
        """What the back-office action is for: the value given, else the product sold."""
        if self.connector_action == ConnectorAction.BOOK_ADDON:
            return self.connector_value or self.product
        return self.connector_value

    def clean(self) -> None:
        from guidance.offers import offer_rule_check

        errors = {}
        message = offer_rule_check(self.rule)
        if message:
            errors["rule"] = message
        if self.connector_action and not self.connector_action_value:
            errors["connector_value"] = _("Name the add-on or the payment method.")
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            errors["valid_until"] = _("The end lies before the start.")
        if not isinstance(self.channels, list) or not all(
            isinstance(c, str) for c in self.channels
        ):
            errors["channels"] = _('A list of channel keys, e.g. ["phone", "email"].')
        if errors:
            raise ValidationError(errors)

    @property
    def name(self) -> str:
        return self.text("name")

    @property
    def pitch(self) -> str:
        return self.text("pitch")

    @property
    def benefit(self) -> str:
        return self.text("benefit")


class OfferResult(models.TextChoices):
    """What happened when an offer met a customer; `cases.OfferOutcome` records it."""

    ELIGIBLE = "eligible", _("Eligible")
    PRESENTED = "presented", _("Presented")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    NOT_NOW = "not_now", _("Not now")


class DeclineReason(models.TextChoices):
    PRICE = "price", _("Too expensive")
    NOT_INTERESTED = "not_interested", _("Not interested")
    HAS_ALREADY = "has_already", _("Has it elsewhere")
    BAD_TIME = "bad_time", _("Bad moment")
    DISTRUST = "distrust", _("Does not trust it")
    OTHER = "other", _("Other")
