"""Reads for the case screens, with the one access rule for cases."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404

from cases.models import Case, CaseEvent

HOME_LIST_SIZE = 50


@dataclass(frozen=True)
class TransitionButton:
    name: str
    label: str
    fields: list[str]


def access_case_by_reference(*, user: AbstractBaseUser | AnonymousUser, reference: str) -> Case:
    """The one access rule for a case: 404 when missing, 403 without the permission."""
    if not user.has_perm("cases.view_case"):
        raise PermissionDenied
    try:
        return Case.objects.select_related("customer", "assignee").get(reference=reference)
    except Case.DoesNotExist:
        raise Http404 from None


def case_transition_buttons(*, case: Case, user: AbstractBaseUser) -> list[TransitionButton]:
    """The transitions this user may fire on this case now, for drawing buttons."""
    return [
        TransitionButton(
            name=t.name,
            label=str(t.custom.get("label", t.name)),
            fields=list(t.custom.get("fields", [])),
        )
        for t in case.get_available_user_state_transitions(user)
    ]


def case_events(*, case: Case, limit: int = 50) -> list[CaseEvent]:
    return list(case.events.select_related("by").order_by("-at", "-id")[:limit])


def my_cases(*, user: AbstractBaseUser) -> list[Case]:
    return list(
        Case.objects.active()
        .assigned_to(user)
        .select_related("customer")
        .order_by("created_at", "id")[:HOME_LIST_SIZE]
    )


def open_cases(*, limit: int = HOME_LIST_SIZE) -> list[Case]:
    return list(
        Case.objects.active()
        .select_related("customer", "assignee")
        .order_by("created_at", "id")[:limit]
    )


CUSTOMER_CASES_SHOWN = 20


def customer_active_cases(*, customer_id: int) -> list[Case]:
    """The customer's cases still being worked, oldest first, for the cockpit's panel."""
    return list(
        Case.objects.active()
        .filter(customer_id=customer_id)
        .select_related("assignee")
        .order_by("created_at", "id")[:CUSTOMER_CASES_SHOWN]
    )


def case_search(*, query: str) -> Case | None:
    query = query.replace("\x00", "").strip().upper()
    return Case.objects.filter(reference=query).first() if query.startswith("C-") else None
