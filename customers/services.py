"""Every write to the customers app goes through these functions."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext as _

from cpm.rows import Query, keys_give, keys_query, rows_insert, rows_together
from customers import identity
from customers.connectors import (
    BackOfficeActionFailed,
    BackOfficeUnavailable,
    ConnectorAction,
    billing_connector,
)
from customers.models import (
    BODY_MAX_LENGTH,
    CHANNEL_CONTACT_KINDS,
    Address,
    Attachment,
    ChangeEntity,
    Channel,
    ContactKind,
    ContactPoint,
    Customer,
    CustomerChange,
    CustomerEvent,
    CustomerKind,
    CustomerStatus,
    EventKind,
    Holding,
    HoldingStatus,
    Interaction,
    Language,
    PaymentMethod,
    Sequence,
)
from customers.selectors import SenderAddress

Actor = AbstractBaseUser | AnonymousUser | None
CUSTOMER_EDITABLE = {
    "name",
    "language",
    "kind",
    "date_of_birth",
    "register_number",
    "preferred_channel",
    "consent_service",
    "consent_marketing",
    "segment",
    "status",
}


def sequence_numbers(*, name: str, count: int) -> list[int]:
    """Draw `count` numbers of a named sequence, ascending; a new sequence starts at one.

    On PostgreSQL from a database sequence (`cpm_sequence_numbers`, made on the first
    draw): `nextval` holds no lock until commit, so transactions that number new cases at
    the same time do not wait for each other; numbers a rolled-back transaction drew are
    skipped, and numbers drawn at the same moment may interleave. Elsewhere (SQLite, which
    has one writer at a time anyway) the counter row's UPDATE, which returns the new value
    (`RETURNING`): consecutive numbers. One statement either way.
    """
    return sequence_query(name=name, count=count).run()


def sequence_query(*, name: str, count: int) -> Query[list[int]]:
    """`sequence_numbers` as a query, to ask with others in one round trip (PostgreSQL)."""
    if connection.vendor == "postgresql":
        sql = "SELECT cpm_sequence_numbers(%s, %s)"
        return Query(sql, [name, count], lambda rows: sorted(row[0] for row in rows))
    return Query("", [], lambda _rows: counter_numbers(name=name, count=count))


def counter_numbers(*, name: str, count: int) -> list[int]:
    """`sequence_numbers` from the counter row (SQLite)."""
    with connection.cursor() as cursor:
        table = connection.ops.quote_name(Sequence._meta.db_table)
        for _attempt in range(2):
            cursor.execute(
                f'UPDATE {table} SET "last" = "last" + %s WHERE "name" = %s RETURNING "last"',
                [count, name],
            )
            row = cursor.fetchone()
            if row is not None:
                return list(range(row[0] - count + 1, row[0] + 1))
            Sequence.objects.get_or_create(name=name)  # the first number of this sequence
    raise RuntimeError(f"sequence {name!r} could not be created")  # pragma: no cover


def sequence_next(*, name: str) -> int:
    return sequence_numbers(name=name, count=1)[0]


def customer_number(serial: int) -> str:
    return f"K-{serial + 100_000:06d}"


def customer_number_next() -> str:
    return customer_number(sequence_next(name="customer"))


def customer_create(
    *, name: str, language: str = Language.GERMAN, number: str = "", **fields: object
) -> Customer:
    """A new customer; `fields` are any of the master-data fields (kind, segment, consent ...)."""
    unknown = set(fields) - CUSTOMER_EDITABLE
    if unknown:
        raise TypeError(f"customer_create() got unexpected fields {sorted(unknown)}")
    customer = Customer(
        name=name, language=language, number=number or customer_number_next(), **fields
    )
    customer.full_clean()
    customer.save()
    return customer


def actor(by: Actor) -> AbstractBaseUser | None:
    return by if by is not None and by.is_authenticated else None


def changes_record(**fields: Any) -> list[CustomerChange]:
    """Write one change row per field whose value differs between `old` and `new` (the
    arguments of `change_rows`)."""
    return CustomerChange.objects.bulk_create(change_rows(**fields))


def change_rows(
    *,
    customer: Customer,
    entity: str,
    entity_id: int,
    old: Mapping[str, object],
    new: Mapping[str, object],
    by: Actor,
    detail: str = "",
    at: datetime | None = None,
) -> list[CustomerChange]:
    """One change row per field whose value differs between `old` and `new`, unsaved."""
    at = at or timezone.now()
    return [
        CustomerChange(
            customer=customer,
            entity=entity,
            entity_id=entity_id,
            field=name,
            detail=detail,
            old=text(old.get(name)),
            new=text(new.get(name)),
            by=actor(by),
            at=at,
        )
        for name in new
        if text(old.get(name)) != text(new.get(name))
    ]


def text(value: object) -> str:
    return "" if value is None else str(value)


def values_of(instance: Model, names: list[str]) -> dict[str, object]:
    return {name: getattr(instance, name) for name in names}


def customer_lock(customer: Customer) -> Customer:
    """Serialise writes to one customer's master data (a no-op on SQLite, which has one writer)."""
    return Customer.objects.select_for_update().get(pk=customer.pk)


@transaction.atomic
def customer_update(*, customer: Customer, by: Actor, **fields: object) -> Customer:
    """Change master-data fields of the customer; saves and records only what changed."""
    unknown = set(fields) - CUSTOMER_EDITABLE
    if unknown:
        raise TypeError(f"customer_update() got unexpected fields {sorted(unknown)}")
    customer = customer_lock(customer)
    old = values_of(customer, list(fields))
    for name, value in fields.items():
        setattr(customer, name, value)
    customer.full_clean()
    changed = [name for name in fields if text(old[name]) != text(fields[name])]
    if changed:
        customer.save(update_fields=changed)
        changes_record(
            customer=customer,
            entity=ChangeEntity.CUSTOMER,
            entity_id=customer.pk,
            old=old,
            new={name: fields[name] for name in changed},
            by=by,
        )
    return customer


# The customer's own fields in the cockpit's header form, in the form's order. Segment and
# status need `customers.change_customer_segment` (supervisors, admins): they decide prices,
# offers and whether the customer may be served at all.
CUSTOMER_COCKPIT_FIELDS = [
    "name",
    "date_of_birth",
    "register_number",
    "language",
    "preferred_channel",
    "consent_service",
    "consent_marketing",
    "segment",
    "status",
]
CUSTOMER_RESTRICTED_FIELDS = ["segment", "status"]
SEGMENT_PERMISSION = "customers.change_customer_segment"
OLDEST_AGE_YEARS = 120
REGISTER_NUMBER = re.compile(r"^[A-Z0-9][A-Z0-9 ./-]*$")


class CustomerConflict(Exception):
    """Someone else changed fields of the customer that this edit changes too.

    `customer` is the current record, `fields` the fields both changed; nothing was saved.
    """

    def __init__(self, *, customer: Customer, fields: list[str]) -> None:
        self.customer = customer
        self.fields = fields
        super().__init__(
            _("Someone else changed this customer while you were editing; nothing was saved.")
        )


def customer_fields_for(user: Actor) -> list[str]:
    """The fields of the header form this user may change."""
    restricted = user is None or not user.has_perm(SEGMENT_PERMISSION)
    return [
        name
        for name in CUSTOMER_COCKPIT_FIELDS
        if not (restricted and name in CUSTOMER_RESTRICTED_FIELDS)
    ]


def preferred_channel_problem(*, customer: Customer, channel: str) -> str:
    """Why the customer cannot be reached on `channel`, or "" when they can."""
    if channel == Channel.LETTER:
        if Address.objects.current().filter(customer=customer).exists():
            return ""
        return _(
            "Letters need a current address, and the customer has none. Add the address first."
        )
    kinds = CHANNEL_CONTACT_KINDS.get(channel)
    if not kinds or customer.contact_points.active().filter(kind__in=kinds).exists():
        return ""
    messages = {
        Channel.PHONE: _(
            "The customer has no phone number on file. Add one under Contact points first."
        ),
        Channel.SMS: _(
            "SMS needs a mobile number, and the customer has none on file. Add one "
            "under Contact points first."
        ),
        Channel.EMAIL: _(
            "The customer has no e-mail address on file. Add one under Contact points first."
        ),
        Channel.SOCIAL: _(
            "The customer has no social media or messenger handle on file. Add "
            "one under Contact points first."
        ),
    }
    return messages[channel]


def customer_fields_check(*, customer: Customer, changes: Mapping[str, object]) -> dict:
    """Specific messages for changed values that are well-formed but wrong for this customer.

    Only changed fields are checked: an old preferred channel without a contact point does
    not block a change of the language.
    """
    errors: dict[str, str] = {}
    if "name" in changes and not str(changes["name"] or "").strip():
        errors["name"] = _("Give the customer's name.")
    born = changes.get("date_of_birth")
    if born is not None and customer.kind != CustomerKind.PERSON:
        errors["date_of_birth"] = _("Only a person has a date of birth.")
    elif isinstance(born, date):
        today = timezone.localdate()
        if born > today:
            errors["date_of_birth"] = _("The date of birth cannot be in the future.")
        elif born < today.replace(year=today.year - OLDEST_AGE_YEARS):
            errors["date_of_birth"] = _(
                "The date of birth is more than %(years)s years ago; check it for a typo."
            ) % {"years": OLDEST_AGE_YEARS}
    register = str(changes.get("register_number") or "")
    if register and customer.kind != CustomerKind.ORGANISATION:
        errors["register_number"] = _("Only an organisation has a register number.")
    elif register and not REGISTER_NUMBER.match(register):
        errors["register_number"] = _(
            "A register number has letters, digits, spaces, dots, slashes and dashes only, "
            "e.g. HRB 12345 B."
        )
    channel = str(changes.get("preferred_channel") or "")
    if channel:
        problem = preferred_channel_problem(customer=customer, channel=channel)
        if problem:
            errors["preferred_channel"] = problem
    return errors


@transaction.atomic
def customer_edit(
    *,
    customer: Customer,
    by: AbstractBaseUser,
    changes: Mapping[str, object],
    seen: Mapping[str, str],
) -> Customer:
    """Save the customer's own fields from the cockpit: only what `by` changed, checked,
    each change on the timeline (the change log: who, when, old, new).

    `seen` holds the values the form showed (as text). A field whose posted value equals
    what was seen is not written, so a change someone else saved meanwhile survives (a
    consent withdrawn on another desk is never switched back by an unrelated edit). When
    both changed the same field to different values, CustomerConflict: nothing is saved.
    """
    unknown = set(changes) - set(CUSTOMER_COCKPIT_FIELDS)
    if unknown:
        raise TypeError(f"customer_edit() got unexpected fields {sorted(unknown)}")
    customer = customer_lock(customer)
    if customer.erased_at is not None:
        raise ValidationError(
            _("This customer's personal data has been erased; it cannot be edited.")
        )
    if customer.merged_into_id is not None:
        raise ValidationError(
            _("This record was merged into another customer; edit the customer kept.")
        )
    if "name" in changes:
        changes = {**changes, "name": " ".join(str(changes["name"] or "").split())}
    if "register_number" in changes:
        compact = " ".join(str(changes["register_number"] or "").split()).upper()
        changes = {**changes, "register_number": compact}
    touched = {
        name: value for name, value in changes.items() if text(value) != text(seen.get(name))
    }
    allowed = customer_fields_for(by)
    if set(touched) - set(allowed):
        raise PermissionDenied
    conflicts = [
        name
        for name, value in touched.items()
        if text(getattr(customer, name)) not in (text(seen.get(name)), text(value))
    ]
    if conflicts:
        raise CustomerConflict(customer=customer, fields=conflicts)
    errors = customer_fields_check(customer=customer, changes=touched)
    if errors:
        raise ValidationError(errors)
    return customer_update(customer=customer, by=by, **touched)


def contact_normalise(*, kind: str, value: str, network: str = "") -> str:
    """The matching key of a contact value; a ValidationError with a specific message."""
    if kind in (ContactKind.PHONE, ContactKind.MOBILE):
        return identity.phone_normalise(value)
    if kind == ContactKind.EMAIL:
        return identity.email_normalise(value)
    if kind in (ContactKind.SOCIAL, ContactKind.MESSENGER):
        return identity.handle_normalise(value, network=network)
    raise ValidationError({"kind": _("Choose the kind of contact point.")})


def contact_point_check_free(*, kind: str, normalised: str, exclude_pk: int | None) -> None:
    """An active value belongs to one customer only; say which one holds it."""
    holders = ContactPoint.objects.active().filter(kind=kind, normalised=normalised)
    if exclude_pk is not None:
        holders = holders.exclude(pk=exclude_pk)
    holder = holders.select_related("customer").first()
    if holder is not None:
        raise ValidationError(
            {
                "value": _("%(value)s already belongs to customer %(number)s.")
                % {"value": holder.value, "number": holder.customer.number}
            }
        )


def field_errors(error: ValidationError, field: str) -> ValidationError:
    """A plain ValidationError from `identity` attached to the form field it is about."""
    return error if hasattr(error, "error_dict") else ValidationError({field: error.messages})


@transaction.atomic
def contact_point_add(
    *,
    customer: Customer,
    kind: str,
    value: str,
    by: Actor,
    network: str = "",
    verified: bool = False,
    primary: bool = False,
) -> ContactPoint:
    """Add a way to reach the customer; the first of its kind becomes the primary one."""
    customer = customer_lock(customer)
    try:
        normalised = contact_normalise(kind=kind, value=value, network=network)
    except ValidationError as error:
        raise field_errors(error, "value") from None
    contact_point_check_free(kind=kind, normalised=normalised, exclude_pk=None)
    same_kind = ContactPoint.objects.active().filter(customer=customer, kind=kind)
    primary = primary or not same_kind.exists()
    if primary:
        same_kind.filter(primary=True).update(primary=False)
    contact_point = ContactPoint(
        customer=customer,
        kind=kind,
        network=network.strip().lower(),
        value=value.strip(),
        normalised=normalised,
        verified=verified,
        primary=primary,
    )
    contact_point.full_clean(validate_constraints=False)
    contact_point.save()
    changes_record(
        customer=customer,
        entity=ChangeEntity.CONTACT_POINT,
        entity_id=contact_point.pk,
        old={},
        new={"value": contact_point.value},
        by=by,
        detail=kind,
    )
    return contact_point


@transaction.atomic
def contact_point_change(
    *,
    contact_point: ContactPoint,
    value: str,
    by: Actor,
    network: str | None = None,
    verified: bool | None = None,
    primary: bool | None = None,
) -> ContactPoint:
    """Correct a contact value or its flags. A new value is unverified unless said otherwise."""
    customer_lock(contact_point.customer)
    contact_point = ContactPoint.objects.select_related("customer").get(pk=contact_point.pk)
    network = contact_point.network if network is None else network.strip().lower()
    try:
        normalised = contact_normalise(kind=contact_point.kind, value=value, network=network)
    except ValidationError as error:
        raise field_errors(error, "value") from None
    contact_point_check_free(
        kind=contact_point.kind, normalised=normalised, exclude_pk=contact_point.pk
    )
    names = ["value", "network", "verified", "primary"]
    old = values_of(contact_point, names)
    if verified is None:
        verified = contact_point.verified and normalised == contact_point.normalised
    if primary and not contact_point.primary:
        ContactPoint.objects.active().filter(
            customer_id=contact_point.customer_id, kind=contact_point.kind, primary=True
        ).update(primary=False)
    contact_point.value = value.strip()
    contact_point.network = network
    contact_point.normalised = normalised
    contact_point.verified = verified
    contact_point.primary = contact_point.primary if primary is None else primary
    new = values_of(contact_point, names)
    changed = [name for name in names if text(old[name]) != text(new[name])]
    if changed:
        contact_point.save(update_fields=[*changed, "normalised"])
        changes_record(
            customer=contact_point.customer,
            entity=ChangeEntity.CONTACT_POINT,
            entity_id=contact_point.pk,
            old=old,
            new={name: new[name] for name in changed},
            by=by,
            detail=contact_point.kind,
        )
    return contact_point


@transaction.atomic
def contact_point_remove(*, contact_point: ContactPoint, by: Actor) -> ContactPoint:
    """Deactivate a contact point (it stays for the history); its value is free again."""
    customer_lock(contact_point.customer)
    if not contact_point.active:
        return contact_point
    contact_point.active = False
    contact_point.primary = False
    contact_point.save(update_fields=["active", "primary"])
    changes_record(
        customer=contact_point.customer,
        entity=ChangeEntity.CONTACT_POINT,
        entity_id=contact_point.pk,
        old={"value": contact_point.value},
        new={"value": ""},
        by=by,
        detail=contact_point.kind,
    )
    return contact_point


ADDRESS_FIELDS = ["street", "postal_code", "city", "country"]


@transaction.atomic
def address_change(
    *,
    customer: Customer,
    street: str,
    postal_code: str,
    city: str,
    by: Actor,
    country: str = "DE",
    valid_from: date | None = None,
) -> Address:
    """Make this the customer's current address. The previous one ends the day before.

    A correction on the day the current address started changes it in place.
    """
    customer = customer_lock(customer)
    country = country.strip().upper() or "DE"
    errors: dict[str, list[str]] = {}
    try:
        postal_code = identity.postal_code_normalise(postal_code, country=country)
    except ValidationError as error:
        errors["postal_code"] = error.messages
    if not street.strip():
        errors["street"] = [_("Give the street and house number.")]
    if not city.strip():
        errors["city"] = [_("Give the city.")]
    if errors:
        raise ValidationError(errors)
    valid_from = valid_from or timezone.localdate()
    new = {"street": street.strip(), "postal_code": postal_code, "city": city.strip()}
    new["country"] = country
    current = Address.objects.current().filter(customer=customer).first()
    old = values_of(current, ADDRESS_FIELDS) if current else {}
    if current and all(text(old[name]) == text(new[name]) for name in ADDRESS_FIELDS):
        return current
    if current and current.valid_from >= valid_from:
        address = current
        for name, value in new.items():
            setattr(address, name, value)
    else:
        if current:
            current.valid_until = valid_from - timedelta(days=1)
            current.save(update_fields=["valid_until"])
        address = Address(customer=customer, valid_from=valid_from, **new)
    address.full_clean(validate_constraints=False)
    address.save()
    changes_record(
        customer=customer,
        entity=ChangeEntity.ADDRESS,
        entity_id=address.pk,
        old=old,
        new=new,
        by=by,
    )
    return address


def payment_validate(*, payment_method: str, iban: str) -> str:
    """The compact IBAN (or ""), with the rule that a direct debit needs one."""
    if payment_method not in PaymentMethod.values:
        raise ValidationError({"payment_method": _("Choose a payment method.")})
    if not iban.strip():
        if payment_method == PaymentMethod.DIRECT_DEBIT:
            raise ValidationError({"iban": _("A direct debit needs the customer's IBAN.")})
        return ""
    try:
        return identity.iban_normalise(iban)
    except ValidationError as error:
        raise field_errors(error, "iban") from None


@transaction.atomic
def holding_create(
    *,
    customer: Customer,
    product: str,
    contract_number: str,
    start: date,
    by: Actor,
    monthly_fee: Decimal = Decimal("0.00"),
    payment_method: str = PaymentMethod.INVOICE,
    iban: str = "",
    billing_account: str = "",
    status: str = HoldingStatus.ACTIVE,
    end: date | None = None,
) -> Holding:
    customer = customer_lock(customer)
    holding = Holding(
        customer=customer,
        product=product,
        contract_number=contract_number.strip().upper(),
        start=start,
        end=end,
        status=status,
        monthly_fee=monthly_fee,
        billing_account=billing_account,
        payment_method=payment_method,
        iban=payment_validate(payment_method=payment_method, iban=iban),
    )
    holding.full_clean()
    holding.save()
    changes_record(
        customer=customer,
        entity=ChangeEntity.HOLDING,
        entity_id=holding.pk,
        old={},
        new={"product": holding.product},
        by=by,
        detail=holding.contract_number,
    )
    return holding


@transaction.atomic
def holding_payment_change(
    *, holding: Holding, payment_method: str, iban: str, by: Actor
) -> Holding:
    """Change how a holding is paid; a direct debit needs a valid IBAN."""
    customer_lock(holding.customer)
    holding = Holding.objects.select_related("customer").get(pk=holding.pk)
    compact = payment_validate(payment_method=payment_method, iban=iban)
    names = ["payment_method", "iban"]
    old = values_of(holding, names)
    new = {"payment_method": payment_method, "iban": compact}
    changed = [name for name in names if text(old[name]) != text(new[name])]
    if changed:
        holding.payment_method = payment_method
        holding.iban = compact
        holding.save(update_fields=changed)
        changes_record(
            customer=holding.customer,
            entity=ChangeEntity.HOLDING,
            entity_id=holding.pk,
            old=old,
            new={name: new[name] for name in changed},
            by=by,
            detail=holding.contract_number,
        )
    return holding


def interaction_record(
    *,
    customer: Customer,
    channel: str,
    direction: str,
    occurred_at: datetime,
    subject: str = "",
    body: str = "",
    agent: AbstractBaseUser | None = None,
    case_reference: str = "",
) -> Interaction:
    """Record one contact on the customer's timeline. Customer text is cut to the size limit."""
    interaction = Interaction(
        customer=customer,
        channel=channel,
        direction=direction,
        occurred_at=occurred_at,
        subject=subject[:300],
        body=body.replace("\x00", "")[:BODY_MAX_LENGTH],
        agent=agent,
        case_reference=case_reference,
    )
    # The customer and agent are saved rows (their foreign keys hold in the database): no
    # query to check that they exist; choices and lengths are still checked.
    interaction.full_clean(exclude=["agent", "customer"])
    interaction.save()
    return interaction


def interactions_record_many(interactions: list[Interaction]) -> list[Interaction]:
    """Record many inbound contacts in one statement (intake's set-based path): the same
    cuts as `interaction_record`; choices are the caller's (channel and direction constants).
    """
    for interaction in interactions:
        interaction.subject = interaction.subject[:300]
        interaction.body = interaction.body.replace("\x00", "")[:BODY_MAX_LENGTH]
    return rows_insert(Interaction, interactions)


def interactions_refile(
    *, from_reference: str, to_reference: str, ids: list[int] | None = None
) -> list[int]:
    """File the contacts of case `from_reference` under `to_reference`; the ids that moved.

    With `ids`, only those contacts that still belong to `from_reference` move (the undo of
    a case merge moves back exactly what the merge moved). Runs in the caller's transaction.
    """
    contacts = Interaction.objects.filter(case_reference=from_reference)
    if ids is not None:
        contacts = contacts.filter(pk__in=ids)
    moved = list(contacts.order_by("pk").values_list("pk", flat=True))
    Interaction.objects.filter(pk__in=moved).update(case_reference=to_reference)
    return moved


def customer_event_record(
    *,
    customer: Customer,
    kind: str,
    subject: str,
    detail: str = "",
    channel: str = "",
    case_reference: str = "",
    by: AbstractBaseUser | None = None,
    at: datetime | None = None,
) -> CustomerEvent:
    """Put something else that happened (e.g. the answer to an offer) on the timeline."""
    event = CustomerEvent(
        customer=customer,
        kind=kind,
        subject=subject[:300],
        detail=detail[:300],
        channel=channel,
        case_reference=case_reference[:20],
        by=by if by is not None and by.is_authenticated else None,
        at=at or timezone.now(),
    )
    event.full_clean(exclude=["by", "customer"])
    event.save()
    return event


def back_office_action(
    *, customer: Customer, action: str, value: str, subject: str, by: Actor = None
) -> str:
    """Ask the back office to do `action` (a ConnectorAction) for the customer; on success
    the timeline says so (`subject` names why, e.g. the offer). Returns the back office's
    reference; raises BackOfficeActionFailed, whatever went wrong, with the reason."""
    connector = billing_connector()
    try:
        reference = connector.perform(customer_number=customer.number, action=action, value=value)
    except BackOfficeUnavailable as error:
        raise BackOfficeActionFailed(f"back office not reachable ({error})") from None
    connector.forget(customer_number=customer.number)
    label = dict(ConnectorAction.choices).get(action, action)
    customer_event_record(
        customer=customer,
        kind=EventKind.BACK_OFFICE_ACTION,
        subject=subject,
        detail=f"{label}: {value} ({reference})",
        by=by if isinstance(by, AbstractBaseUser) else None,
    )
    return reference


def attachment_add(
    *,
    interaction: Interaction,
    filename: str,
    content_type: str,
    data: bytes,
    omit: bool = False,
) -> Attachment:
    """Store a file that came with a message on its interaction; over
    `CPM_ATTACHMENT_MAX_BYTES` (or with `omit`) it is recorded without its content."""
    name = attachment_filename(filename)
    attachment = Attachment(
        interaction=interaction,
        filename=name,
        content_type=content_type.replace("\x00", "")[:100] or "application/octet-stream",
        size=len(data),
        omitted=omit or len(data) > settings.CPM_ATTACHMENT_MAX_BYTES,
    )
    if not attachment.omitted:
        # A random name in storage: the sender's name never becomes a path.
        suffix = Path(name).suffix.lower()[:10]
        stored = suffix if suffix[1:].isalnum() else ""
        attachment.file.save(f"{uuid.uuid4().hex}{stored}", ContentFile(data), save=False)
    attachment.save()
    return attachment


def attachment_filename(filename: str) -> str:
    """The sender's file name, made harmless for display and the download header."""
    name = "".join(ch for ch in filename if ch.isprintable() and ch not in '/\\"')
    name = " ".join(name.split()).strip(". ")
    return name[-200:] or "attachment"


def prospects_create(pending: list[tuple[Customer, SenderAddress | None]]) -> list[Customer]:
    """Save unsaved prospects (name set) for senders nobody knows, each reachable at its
    sender's address (unverified), with one statement each for the numbers, the customers,
    the contact points and their change rows (intake's set-based path). An address that
    another customer took meanwhile fails on the unique constraint."""
    if not pending:
        return []
    serials, (customer_keys, contact_keys) = rows_together(
        sequence_query(name="customer", count=len(pending)),
        keys_query((Customer, len(pending)), (ContactPoint, len(pending))),
    )
    prospects = []
    for serial, (prospect, _address) in zip(serials, pending, strict=True):
        prospect.number = customer_number(serial)
        prospect.name = prospect.name[:200] or "?"
        prospect.status = CustomerStatus.PROSPECT
        prospects.append(prospect)
    keys_give(prospects, customer_keys)
    rows_insert(Customer, prospects)
    contacts = [
        ContactPoint(
            customer=prospect,
            kind=address.kind,
            network=address.network,
            value=address.value[:200].strip(),
            normalised=address.normalised,
            primary=True,
        )
        for prospect, address in pending
        if address is not None
    ]
    keys_give(contacts, contact_keys)
    rows_insert(ContactPoint, contacts)
    at = timezone.now()
    changes = [
        change_rows(
            customer=contact.customer,
            entity=ChangeEntity.CONTACT_POINT,
            entity_id=contact.pk,
            old={},
            new={"value": contact.value},
            by=None,
            detail=contact.kind,
            at=at,
        )
        for contact in contacts
    ]
    rows_insert(CustomerChange, [row for rows in changes for row in rows])
    return prospects


def interaction_case_reference_set(*, interaction: Interaction, case_reference: str) -> Interaction:
    """File a contact under another case of the same customer (a message moved by an agent)."""
    interaction.case_reference = case_reference
    Interaction.objects.filter(pk=interaction.pk).update(case_reference=case_reference)
    return interaction
