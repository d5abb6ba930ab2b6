from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

BODY_MAX_LENGTH = 100_000  # customer text is untrusted and size-limited


class Language(models.TextChoices):
    GERMAN = "de", _("German")
    ENGLISH = "en", _("English")


class Channel(models.TextChoices):
    PHONE = "phone", _("Phone")
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("SMS")
    CHAT = "chat", _("Chat")
    SOCIAL = "social", _("Social media")
    WEBFORM = "webform", _("Web form")
    LETTER = "letter", _("Letter")
    VISIT = "visit", _("Visit")


class Direction(models.TextChoices):
    INBOUND = "in", _("Inbound")
    OUTBOUND = "out", _("Outbound")


class Customer(models.Model):
    number = models.CharField(_("customer number"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=200)
    language = models.CharField(
        _("language"), max_length=2, choices=Language.choices, default=Language.GERMAN
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.number})"

    def get_absolute_url(self) -> str:
        return reverse("customers:customer-detail", args=[self.pk])


class InteractionQuerySet(models.QuerySet["Interaction"]):
    def for_customer(self, customer_id: int) -> InteractionQuerySet:
        return self.filter(customer_id=customer_id)

    def newest_first(self) -> InteractionQuerySet:
        return self.order_by("-occurred_at", "-id")


class Interaction(models.Model):
    """One contact with the customer on one channel, inbound or outbound.

    `case_reference` is the business key of the case the contact belongs to. It is a plain
    string rather than a foreign key because `customers` sits left of `cases` and must not
    depend on it (DESIGN.md); `cases` sets it through `customers.services`.
    """

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="interactions", verbose_name=_("customer")
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    direction = models.CharField(_("direction"), max_length=3, choices=Direction.choices)
    occurred_at = models.DateTimeField(_("occurred at"))
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    body = models.TextField(_("body"), max_length=BODY_MAX_LENGTH, blank=True)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("agent"),
    )
    case_reference = models.CharField(_("case"), max_length=20, blank=True, db_index=True)

    objects = InteractionQuerySet.as_manager()

    class Meta:
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        indexes = [
            # The timeline's keyset: newest first within one customer.
            models.Index(
                fields=["customer", "-occurred_at", "-id"], name="interaction_timeline_idx"
            ),
        ]

    def __str__(self) -> str:
        when = f"{self.occurred_at:%Y-%m-%d %H:%M}"
        return f"{self.get_channel_display()} {self.get_direction_display()} {when}"


class Sequence(models.Model):
    """A named counter for human-readable business keys (customer numbers, case references).

    Incremented with an UPDATE, so two writers never draw the same number.
    """

    name = models.CharField(max_length=50, unique=True)
    last = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = _("sequence")
        verbose_name_plural = _("sequences")

    def __str__(self) -> str:
        return f"{self.name}={self.last}"
