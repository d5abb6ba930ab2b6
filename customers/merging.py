"""Duplicates: find likely ones, merge one customer into another, and undo the merge."""

from __future__ import annotations

import difflib
import unicodedata
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import (
    PHONE_KINDS,
    Address,
    AuditAction,
    AuditEvent,
    ChangeEntity,
    ContactKind,
    ContactPoint,
    Customer,
    CustomerChange,
    CustomerEvent,
    CustomerMerge,
    Holding,
    Interaction,
)
from customers.services import Actor, actor
from customers.signals import customer_merging, customer_unmerging

NAME_SIMILARITY = 0.8  # difflib ratio of the folded names, same birth date required
SPELLINGS = {"ü": "ue", "ö": "oe", "ä": "ae", "ß": "ss"}
MOVED_MODELS: list[type[Model]] = [
    ContactPoint,
    Address,
    Holding,
    Interaction,
    CustomerChange,
    CustomerEvent,
]


@dataclass(frozen=True)
class Duplicate:
    customer: Customer
    reasons: list[str]


def name_fold(name: str) -> str:
    """Müller, Mueller and MUELLER fold to the same; accents go, spaces collapse."""
    name = name.lower()
    for letter, spelt in SPELLINGS.items():
        name = name.replace(letter, spelt)
    name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return " ".join(name.split())


def names_similar(one: str, other: str) -> bool:
    return difflib.SequenceMatcher(None, name_fold(one), name_fold(other)).ratio() >= (
        NAME_SIMILARITY
    )


def live(queryset: QuerySet[Customer]) -> QuerySet[Customer]:
    return queryset.filter(merged_into__isnull=True, erased_at__isnull=True)


def customer_duplicates(*, customer: Customer, limit: int = 10) -> list[Duplicate]:
    """Customers that are likely the same person: the same phone number (as phone or mobile)
    or e-mail address, or a similar name with the same birth date. Three queries."""
    reasons: dict[int, list[str]] = {}
    mine = list(ContactPoint.objects.filter(customer=customer).values_list("kind", "normalised"))
    phones = {value for kind, value in mine if kind in PHONE_KINDS}
    emails = {value for kind, value in mine if kind == ContactKind.EMAIL}
    if phones or emails:
        shared = ContactPoint.objects.filter(
            kind__in=PHONE_KINDS, normalised__in=phones
        ) | ContactPoint.objects.filter(kind=ContactKind.EMAIL, normalised__in=emails)
        for kind, customer_id in shared.exclude(customer=customer).values_list(
            "kind", "customer_id"
        )[:100]:
            reason = (
                _("same e-mail address") if kind == ContactKind.EMAIL else _("same phone number")
            )
            if reason not in reasons.setdefault(customer_id, []):
                reasons[customer_id].append(reason)
    if customer.date_of_birth:
        born = Customer.objects.filter(date_of_birth=customer.date_of_birth).exclude(pk=customer.pk)
        for pk, name in born.values_list("pk", "name")[:500]:
            if names_similar(customer.name, name):
                reasons.setdefault(pk, []).append(_("similar name, same birth date"))
    found = live(Customer.objects.filter(pk__in=list(reasons)[:200])).order_by("number")[:limit]
    return [Duplicate(customer=c, reasons=reasons[c.pk]) for c in found]


def ids(queryset: QuerySet) -> list[int]:
    return list(queryset.values_list("id", flat=True))


def label(model: type[Model]) -> str:
    return model._meta.label_lower


@transaction.atomic
def customer_merge(*, source: Customer, target: Customer, by: Actor) -> CustomerMerge:
    """Merge `source` (the duplicate) into `target`: contact points, addresses, holdings,
    interactions, recorded changes and, through `customer_merging`, cases move to target.

    Where both have a primary contact of one kind, the target's stays primary; where both
    have a current address, the target's stays current and the source's ends today. What
    moved and what was adjusted is kept on the merge, so `customer_merge_undo` restores it.
    """
    first, second = sorted([source.pk, target.pk])
    locked = {c.pk: c for c in Customer.objects.select_for_update().filter(pk__in=[first, second])}
    source, target = locked.get(source.pk, source), locked.get(target.pk, target)
    if source.pk == target.pk:
        raise ValidationError(_("A customer cannot be merged into itself."))
    for customer in (source, target):
        if customer.merged_into_id or customer.erased_at:
            raise ValidationError(
                _("Customer %(number)s was merged or erased already.") % {"number": customer.number}
            )
    moved: dict[str, object] = {
        label(model): ids(model.objects.filter(customer=source)) for model in MOVED_MODELS
    }
    target_primaries = set(
        ContactPoint.objects.active()
        .filter(customer=target, primary=True)
        .values_list("kind", flat=True)
    )
    demoted = ContactPoint.objects.active().filter(
        customer=source, primary=True, kind__in=target_primaries
    )
    moved["demoted_primary"] = ids(demoted)
    demoted.update(primary=False)
    ended = {}
    if Address.objects.current().filter(customer=target).exists():
        for address in Address.objects.current().filter(customer=source):
            ended[str(address.pk)] = None
            address.valid_until = max(timezone.localdate(), address.valid_from)
            address.save(update_fields=["valid_until"])
    moved["ended_address"] = ended
    for model in MOVED_MODELS:
        model.objects.filter(pk__in=moved[label(model)]).update(customer=target)
    for _receiver, more in customer_merging.send(sender=Customer, source=source, target=target):
        moved.update(more or {})
    Customer.objects.filter(pk=source.pk).update(merged_into=target)
    merge = CustomerMerge.objects.create(source=source, target=target, moved=moved, by=actor(by))
    merge_record(merge, field="merged_from", by=by)
    AuditEvent.objects.create(
        action=AuditAction.MERGE,
        customer=target,
        by=actor(by),
        detail={"merge": merge.pk, "source": source.pk, "counts": counts(moved)},
    )
    return merge


def counts(moved: dict[str, object]) -> dict[str, int]:
    return {name: len(value) for name, value in moved.items() if isinstance(value, list | dict)}


def merge_record(merge: CustomerMerge, *, field: str, by: Actor) -> None:
    """The merge on both customers' timelines."""
    for customer, other in ((merge.target, merge.source), (merge.source, merge.target)):
        CustomerChange.objects.create(
            customer=customer,
            entity=ChangeEntity.CUSTOMER,
            entity_id=customer.pk,
            field=field,
            detail=other.number,
            new=other.number,
            by=actor(by),
        )


@transaction.atomic
def customer_merge_undo(*, merge: CustomerMerge, by: Actor) -> CustomerMerge:
    """Move everything that the merge moved back to the source, and restore what it adjusted.

    Records made on the kept customer after the merge stay there: they happened to it.
    """
    merge = (
        CustomerMerge.objects.select_for_update()
        .select_related("source", "target")
        .get(pk=merge.pk)
    )
    if merge.undone_at is not None:
        raise ValidationError(_("This merge has been undone already."))
    source, target, moved = merge.source, merge.target, merge.moved
    if source.erased_at or target.erased_at:
        raise ValidationError(_("An erased customer cannot be separated again."))
    for model in MOVED_MODELS:
        model.objects.filter(pk__in=moved.get(label(model), []), customer=target).update(
            customer=source
        )
    ContactPoint.objects.active().filter(
        pk__in=moved.get("demoted_primary", []), customer=source
    ).update(primary=True)
    for pk in moved.get("ended_address", {}):
        if not Address.objects.current().filter(customer=source).exists():
            Address.objects.filter(pk=int(pk), customer=source).update(valid_until=None)
    customer_unmerging.send(sender=Customer, source=source, target=target, moved=moved)
    Customer.objects.filter(pk=source.pk).update(merged_into=None)
    merge.undone_at = timezone.now()
    merge.undone_by = actor(by)
    merge.save(update_fields=["undone_at", "undone_by"])
    merge_record(merge, field="merge_undone", by=by)
    AuditEvent.objects.create(
        action=AuditAction.MERGE_UNDO,
        customer=target,
        by=actor(by),
        detail={"merge": merge.pk, "source": source.pk},
    )
    return merge


def customer_merges(*, customer: Customer) -> list[CustomerMerge]:
    """Merges into this customer, newest first."""
    return list(
        CustomerMerge.objects.filter(target=customer)
        .select_related("source", "by", "undone_by")
        .order_by("-at", "-id")[:50]
    )
