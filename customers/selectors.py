"""Reads for the customer screens: permission-checked fetches and keyset-paged timelines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404

from customers.models import Customer, Interaction

TIMELINE_PAGE_SIZE = 25


@dataclass(frozen=True)
class TimelinePage:
    entries: list[Interaction]
    next_cursor: str  # empty on the last page


def access_customer_by_id(*, user: AbstractBaseUser | AnonymousUser, pk: int) -> Customer:
    """The one access rule for a customer: a 404 when missing, a 403 without the permission."""
    if not user.has_perm("customers.view_customer"):
        raise PermissionDenied
    try:
        return Customer.objects.get(pk=pk)
    except Customer.DoesNotExist:
        raise Http404 from None


def timeline_cursor(entry: Interaction) -> str:
    return f"{entry.occurred_at.isoformat()}|{entry.pk}"


def parse_timeline_cursor(cursor: str) -> tuple[datetime, int] | None:
    """The position after which the next page starts; None for the first page or a bad cursor."""
    when, _, pk = cursor.partition("|")
    try:
        return datetime.fromisoformat(when), int(pk)
    except ValueError:
        return None


def timeline_page(
    *, customer_id: int, cursor: str = "", channel: str = "", size: int = TIMELINE_PAGE_SIZE
) -> TimelinePage:
    """One page of the customer's timeline, newest first, in one query whatever its length."""
    entries = Interaction.objects.for_customer(customer_id).select_related("agent").newest_first()
    if channel:
        entries = entries.filter(channel=channel)
    position = parse_timeline_cursor(cursor) if cursor else None
    if position:
        when, pk = position
        entries = entries.filter(Q(occurred_at__lt=when) | Q(occurred_at=when, id__lt=pk))
    rows = list(entries[: size + 1])
    has_more = len(rows) > size
    rows = rows[:size]
    return TimelinePage(entries=rows, next_cursor=timeline_cursor(rows[-1]) if has_more else "")


def customer_search(*, query: str, limit: int = 20) -> list[Customer]:
    """Customers by exact number or by a part of the name (issue 3 adds trigram search)."""
    query = query.replace("\x00", "").strip()
    if not query:
        return []
    return list(
        Customer.objects.filter(Q(number__iexact=query) | Q(name__icontains=query)).order_by(
            "name", "id"
        )[:limit]
    )
