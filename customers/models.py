from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

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


class CustomerKind(models.TextChoices):
    PERSON = "person", _("Person")
    ORGANISATION = "organisation", _("Organisation")


class Segment(models.TextChoices):
    PRIVATE = "private", _("Private")
    BUSINESS = "business", _("Business")
    PREMIUM = "premium", _("Premium")


class CustomerStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    PROSPECT = "prospect", _("Prospect")
    FORMER = "former", _("Former customer")
    BLOCKED = "blocked", _("Blocked")


class Customer(models.Model):
    """Who the customer is. Flags such as VIP are derived (see `selectors.customer_flags`)."""

    number = models.CharField(_("customer number"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=200)
    language = models.CharField(
        _("language"), max_length=2, choices=Language.choices, default=Language.GERMAN
    )
    kind = models.CharField(
        _("kind"), max_length=12, choices=CustomerKind.choices, default=CustomerKind.PERSON
    )
    date_of_birth = models.DateField(_("date of birth"), null=True, blank=True)
    register_number = models.CharField(_("company register number"), max_length=40, blank=True)
    preferred_channel = models.CharField(
        _("preferred channel"), max_length=10, choices=Channel.choices, blank=True
    )
    consent_service = models.BooleanField(_("consent to service contact"), default=False)
    consent_marketing = models.BooleanField(_("consent to marketing"), default=False)
    segment = models.CharField(
        _("segment"), max_length=10, choices=Segment.choices, default=Segment.PRIVATE
    )
    status = models.CharField(
        _("status"), max_length=10, choices=CustomerStatus.choices, default=CustomerStatus.ACTIVE
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    # Set by customers.merging.customer_merge: this record lives on in `merged_into`.
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="merged_from",
        verbose_name=_("merged into"),
    )
    # Set by customers.privacy.customer_erase: the personal data is gone, the records stay.
    erased_at = models.DateTimeField(_("erased"), null=True, blank=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["name", "id"]
        permissions = [
            ("export_customer", _("Can export all data of a customer")),
            ("erase_customer", _("Can erase a customer's personal data")),
            ("merge_customer", _("Can merge duplicate customers")),
            ("change_customer_segment", _("Can change a customer's segment and status")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind=CustomerKind.PERSON) | Q(date_of_birth__isnull=True),
                name="customer_birth_date_only_for_persons",
            ),
            models.CheckConstraint(
                condition=Q(kind=CustomerKind.ORGANISATION) | Q(register_number=""),
                name="customer_register_number_only_for_organisations",
            ),
        ]
        indexes = [
            # Typo-tolerant name search; created on PostgreSQL only (migration 0002).
            GinIndex(fields=["name"], name="customer_name_trgm", opclasses=["gin_trgm_ops"]),
            # Duplicate suggestions: people with the same birth date.
            models.Index(fields=["date_of_birth"], name="customer_birth_date_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.number})"

    def get_absolute_url(self) -> str:
        return reverse("customers:customer-detail", args=[self.pk])


class ContactKind(models.TextChoices):
    PHONE = "phone", _("Phone")
    MOBILE = "mobile", _("Mobile")
    EMAIL = "email", _("E-mail")
    SOCIAL = "social", _("Social media")
    MESSENGER = "messenger", _("Messenger")


PHONE_KINDS = [ContactKind.PHONE, ContactKind.MOBILE]

# The contact points a preferred channel needs: CPM can only use a channel to reach the
# customer with one of these (a letter needs the current address; chat, web form and visit
# are channels the customer starts, so they need nothing on file).
CHANNEL_CONTACT_KINDS: dict[str, list[str]] = {
    Channel.PHONE: PHONE_KINDS,
    Channel.SMS: [ContactKind.MOBILE],
    Channel.EMAIL: [ContactKind.EMAIL],
    Channel.SOCIAL: [ContactKind.SOCIAL, ContactKind.MESSENGER],
}


class ContactPointQuerySet(models.QuerySet["ContactPoint"]):
    def active(self) -> ContactPointQuerySet:
        return self.filter(active=True)


class ContactPoint(models.Model):
    """A way to reach the customer: the value as entered and normalised for matching.

    Phone numbers are normalised to E.164, e-mail addresses lower-cased, handles prefixed
    with their network. Removing a contact point deactivates it, so old interactions keep
    their meaning; only active contact points must be unique, because a number passes from
    one customer to another when the first gives it up.
    """

    customer = models.ForeignKey(
        Customer,
        on_delete=models.CASCADE,
        related_name="contact_points",
        verbose_name=_("customer"),
    )
    kind = models.CharField(_("kind"), max_length=10, choices=ContactKind.choices)
    network = models.CharField(_("network"), max_length=30, blank=True)
    value = models.CharField(_("value"), max_length=200)
    normalised = models.CharField(_("normalised value"), max_length=200)
    verified = models.BooleanField(_("verified"), default=False)
    primary = models.BooleanField(_("primary"), default=False)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = ContactPointQuerySet.as_manager()

    class Meta:
        verbose_name = _("contact point")
        verbose_name_plural = _("contact points")
        ordering = ["kind", "-primary", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "normalised"],
                condition=Q(active=True),
                name="contactpoint_unique_active_value",
            ),
            models.UniqueConstraint(
                fields=["customer", "kind"],
                condition=Q(active=True, primary=True),
                name="contactpoint_one_primary_per_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.value}"


class AddressQuerySet(models.QuerySet["Address"]):
    def current(self) -> AddressQuerySet:
        return self.filter(valid_until__isnull=True)


class Address(models.Model):
    """A postal address over time: the current one has no end date; there is one at most."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="addresses", verbose_name=_("customer")
    )
    street = models.CharField(_("street and number"), max_length=200)
    postal_code = models.CharField(_("postal code"), max_length=10)
    city = models.CharField(_("city"), max_length=100)
    country = models.CharField(_("country"), max_length=2, default="DE")
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until"), null=True, blank=True)

    objects = AddressQuerySet.as_manager()

    class Meta:
        verbose_name = _("address")
        verbose_name_plural = _("addresses")
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(valid_until__isnull=True),
                name="address_one_current_per_customer",
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gte=models.F("valid_from")),
                name="address_valid_until_after_valid_from",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.street}, {self.postal_code} {self.city}"


class HoldingStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    ACTIVE = "active", _("Active")
    CANCELLED = "cancelled", pgettext_lazy("contract", "Cancelled")
    ENDED = "ended", _("Ended")


class PaymentMethod(models.TextChoices):
    DIRECT_DEBIT = "direct_debit", _("Direct debit")
    BANK_TRANSFER = "bank_transfer", _("Bank transfer")
    INVOICE = "invoice", _("Invoice")
    CARD = "card", _("Card")


class Holding(models.Model):
    """A product or contract the customer has, with how it is paid."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="holdings", verbose_name=_("customer")
    )
    product = models.CharField(_("product"), max_length=100)
    contract_number = models.CharField(_("contract number"), max_length=30, unique=True)
    status = models.CharField(
        _("status"), max_length=10, choices=HoldingStatus.choices, default=HoldingStatus.ACTIVE
    )
    start = models.DateField(_("start"))
    end = models.DateField(_("end"), null=True, blank=True)
    monthly_fee = models.DecimalField(
        _("monthly fee"), max_digits=9, decimal_places=2, default=Decimal("0.00")
    )
    billing_account = models.CharField(_("billing account"), max_length=30, blank=True)
    payment_method = models.CharField(
        _("payment method"),
        max_length=15,
        choices=PaymentMethod.choices,
        default=PaymentMethod.INVOICE,
    )
    iban = models.CharField(_("IBAN"), max_length=34, blank=True, db_index=True)

    class Meta:
        verbose_name = _("holding")
        verbose_name_plural = _("holdings")
        ordering = ["start", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(payment_method=PaymentMethod.DIRECT_DEBIT) | ~Q(iban=""),
                name="holding_direct_debit_needs_iban",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product} ({self.contract_number})"

    @property
    def iban_masked(self) -> str:
        """Enough to confirm with the customer, not enough to copy: `DE89 … 3000`."""
        return f"{self.iban[:4]} … {self.iban[-4:]}" if self.iban else ""


class ChangeEntity(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    CONTACT_POINT = "contactpoint", _("Contact point")
    ADDRESS = "address", _("Address")
    HOLDING = "holding", _("Holding")


class CustomerChange(models.Model):
    """One changed value of the customer's master data: who, when, which field, old, new.

    Why an own change log and not django-simple-history (which is installed, and which
    `cases` uses for whole-row snapshots)? The cockpit's timeline must show every change to
    a customer's master data (customer, contact points, addresses, holdings) with old and
    new value, in one keyset-paged query by customer, whatever the history's length.
    simple-history keeps one table per model with full snapshots and no customer index;
    the old value would need the previous snapshot of every row (a diff at read time, more
    queries per page) and four tables merged. Services already know the old and new value
    when they write, so they record it here, in the same transaction, in one table that
    carries `customer_id` (the partitioning key, see DESIGN.md) with the timeline's index.
    """

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="changes", verbose_name=_("customer")
    )
    entity = models.CharField(_("what"), max_length=15, choices=ChangeEntity.choices)
    entity_id = models.PositiveBigIntegerField(_("which"))
    field = models.CharField(_("field"), max_length=50)
    # A contact point's kind, a holding's contract number.
    detail = models.CharField(_("detail"), max_length=40, blank=True)
    old = models.TextField(_("old value"), blank=True)
    new = models.TextField(_("new value"), blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("customer data change")
        verbose_name_plural = _("customer data changes")
        indexes = [models.Index(fields=["customer", "-at", "-id"], name="change_timeline_idx")]

    def __str__(self) -> str:
        return f"{self.entity} {self.entity_id} {self.field}"

    @property
    def model_field(self) -> models.Field | None:
        if self.field in EVENT_FIELDS:
            return None
        model = CHANGE_MODELS[self.entity]
        try:
            field = model._meta.get_field(self.field)
        except FieldDoesNotExist:
            return None
        # A reverse relation (`merged_from`) is no column and has no value to show.
        return field if isinstance(field, models.Field) else None

    @property
    def field_label(self) -> str:
        if self.field in EVENT_FIELDS:
            return str(EVENT_FIELDS[self.field])
        if self.entity == ChangeEntity.CONTACT_POINT and self.detail in ContactKind.values:
            return str(ContactKind(self.detail).label)
        field = self.model_field
        return str(field.verbose_name) if field is not None else self.field

    def display(self, value: str) -> str:
        if self.field == "iban" and value:
            return f"{value[:4]} … {value[-4:]}"  # as the holdings panel shows it
        field = self.model_field
        if field is not None and field.choices:
            return str(dict(field.flatchoices).get(value, value))
        if isinstance(field, models.BooleanField):
            return str(_("yes") if value == "True" else _("no"))
        if isinstance(field, models.DateField) and not isinstance(field, models.DateTimeField):
            try:  # as the cockpit shows dates, e.g. the date of birth
                return date_format(date.fromisoformat(value), "SHORT_DATE_FORMAT")
            except ValueError:
                return value
        return value

    @property
    def old_display(self) -> str:
        return self.display(self.old)

    @property
    def new_display(self) -> str:
        return self.display(self.new)


# Change rows that record an event on the whole customer rather than a field.
EVENT_FIELDS = {
    "merged_from": _("merged with customer"),
    "merge_undone": _("merge undone, customer separated again"),
    "erased": _("personal data erased on request"),
}

CHANGE_MODELS: dict[str, type[models.Model]] = {
    ChangeEntity.CUSTOMER: Customer,
    ChangeEntity.CONTACT_POINT: ContactPoint,
    ChangeEntity.ADDRESS: Address,
    ChangeEntity.HOLDING: Holding,
}


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


class EventKind(models.TextChoices):
    """What else happened with the customer: offers met on a contact (recorded by cases),
    actions done in the back office."""

    OFFER_PRESENTED = "offer_presented", _("Offer presented")
    OFFER_ACCEPTED = "offer_accepted", _("Offer accepted")
    OFFER_DECLINED = "offer_declined", _("Offer declined")
    OFFER_NOT_NOW = "offer_not_now", _("Offer: not now")
    BACK_OFFICE_ACTION = "back_office_action", _("Done in the back office")


class CustomerEvent(models.Model):
    """Something that happened with the customer that is neither a contact nor a data
    change, e.g. the answer to an offer, on the same timeline as both.

    Written only through `customers.services.customer_event_record`; `cases` records offer
    outcomes here with plain texts (the offer's name, the reason in the agent's words), so
    `customers` needs to know nothing about offers or cases (DESIGN.md).
    """

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="events", verbose_name=_("customer")
    )
    kind = models.CharField(_("kind"), max_length=30, choices=EventKind.choices)
    subject = models.CharField(_("subject"), max_length=300)
    detail = models.CharField(_("detail"), max_length=300, blank=True)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, blank=True)
    case_reference = models.CharField(_("case"), max_length=20, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("customer event")
        verbose_name_plural = _("customer events")
        indexes = [models.Index(fields=["customer", "-at", "-id"], name="event_timeline_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject}"

    @property
    def is_event(self) -> bool:  # the timeline template tells its three sources apart
        return True


class Attachment(models.Model):
    """A file that came with a customer's message, on its interaction.

    The file lives in Django's default storage under a random name (the sender's file name
    is only shown and used for the download, never as a path). A file over the size limit
    is recorded without its content (`omitted`), so the agent knows it was there. Files
    are served only as downloads, to desk roles, through the case screen.
    """

    interaction = models.ForeignKey(
        Interaction,
        on_delete=models.CASCADE,
        related_name="attachments",
        verbose_name=_("interaction"),
    )
    filename = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size in bytes"))
    file = models.FileField(_("file"), upload_to="attachments/%Y/%m/", max_length=300, blank=True)
    omitted = models.BooleanField(_("not stored (too large)"), default=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["interaction", "id"]

    def __str__(self) -> str:
        return self.filename


class Sequence(models.Model):
    """A named counter for human-readable business keys (customer numbers, case references).

    Incremented with an UPDATE, so two writers never draw the same number; on PostgreSQL
    only the start of the database sequence that replaced it (`sequence_numbers`).
    """

    name = models.CharField(max_length=50, unique=True)
    last = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = _("sequence")
        verbose_name_plural = _("sequences")

    def __str__(self) -> str:
        return f"{self.name}={self.last}"


class CustomerMerge(models.Model):
    """Customer `source` merged into `target`: which rows moved, so that undo moves them back.

    `moved` maps a model label to the primary keys that moved (contact points, addresses,
    holdings, interactions, changes, and what the receivers of `customer_merging` moved:
    cases and their events and guided runs), plus what was adjusted on the way (primary
    flags taken from the source's contact points, the source's current address ended).
    Only ids and no personal values, so it survives an erasure unchanged.
    """

    source = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="+", verbose_name=_("merged customer")
    )
    target = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="merges", verbose_name=_("kept customer")
    )
    moved = models.JSONField(_("moved records"), default=dict)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    at = models.DateTimeField(_("merged"), default=timezone.now)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    undone_at = models.DateTimeField(_("undone"), null=True, blank=True)

    class Meta:
        verbose_name = _("customer merge")
        verbose_name_plural = _("customer merges")

    def __str__(self) -> str:
        return f"{self.source_id} -> {self.target_id}"


class AuditAction(models.TextChoices):
    EXPORT = "export", _("data exported")
    ERASE = "erase", _("personal data erased")
    MERGE = "merge", _("customers merged")
    MERGE_UNDO = "merge_undo", _("merge undone")


class AuditEvent(models.Model):
    """Who exported, erased or merged which customer, when: ids and counts, no personal data."""

    action = models.CharField(_("action"), max_length=12, choices=AuditAction.choices)
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="+", verbose_name=_("customer")
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("by"),
    )
    at = models.DateTimeField(_("at"), default=timezone.now)
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        indexes = [models.Index(fields=["customer", "-at"], name="audit_customer_idx")]

    def __str__(self) -> str:
        return f"{self.action} {self.customer_id}"
