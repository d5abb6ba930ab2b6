"""Every write to cases goes through these functions: one service per kind of change."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import ConcurrentTransition, can_proceed, has_transition_perm

from cases.models import Case, CaseEvent, CaseEventKind, CaseState
from customers.models import Customer
from customers.services import sequence_next

REASON_MAX_LENGTH = 5000


class CaseActionError(Exception):
    """A refused change to a case; the message is meant for the user."""

    status = 400


class TransitionRefused(CaseActionError):
    status = 409


class TransitionForbidden(CaseActionError):
    status = 403


class CaseConflict(CaseActionError):
    """Someone else changed the case first; the message says what it is now."""

    status = 409


@dataclass(frozen=True)
class TransitionInput:
    resolution: str = ""
    reason: str = ""


def case_reference(year: int, serial: int) -> str:
    return f"C-{year}-{serial:06d}"


def case_reference_next() -> str:
    year = timezone.localdate().year
    return case_reference(year, sequence_next(name=f"case-{year}"))


@transaction.atomic
def case_create(
    *, customer: Customer, subject: str, by: AbstractBaseUser | None, assignee=None
) -> Case:
    case = Case(
        reference=case_reference_next(), customer=customer, subject=subject, assignee=assignee
    )
    case.full_clean(exclude=["state"])
    case.save()
    CaseEvent.objects.create(
        case=case,
        customer=customer,
        kind=CaseEventKind.CREATED,
        target=case.state,
        by=by,
    )
    return case


def transition_method(case: Case, name: str):
    """The bound transition method called `name`, or a refusal if there is none."""
    names = {t.name for t in case.get_all_state_transitions()}
    if name not in names:
        raise TransitionRefused(_("There is no action called “%(name)s”.") % {"name": name})
    return getattr(case, name)


def check_transition(case: Case, name: str, by: AbstractBaseUser, data: TransitionInput):
    method = transition_method(case, name)
    if not can_proceed(method):
        raise TransitionRefused(
            _("“%(action)s” is not possible while the case is %(state)s.")
            % {"action": name, "state": case.get_state_display()}
        )
    if not has_transition_perm(method, by):
        raise TransitionForbidden(_("You are not allowed to do “%(action)s”.") % {"action": name})
    if name == "resolve" and not data.resolution.strip():
        raise CaseActionError(_("Say how the matter was resolved."))
    if name == "reopen" and not data.reason.strip():
        raise CaseActionError(_("Say why the case is reopened."))
    if len(data.resolution) > REASON_MAX_LENGTH or len(data.reason) > REASON_MAX_LENGTH:
        raise CaseActionError(_("The text is too long (at most 5000 characters)."))
    return method


def case_transition(
    *,
    case: Case,
    name: str,
    by: AbstractBaseUser,
    expected_state: str = "",
    data: TransitionInput | None = None,
) -> Case:
    """Fire transition `name` on `case` for `by`, record it, and return the saved case.

    `expected_state` is the state the user saw; when the case has moved on since, the user
    gets a conflict that names the current state instead of acting on a case they did not see.
    """
    data = data or TransitionInput()
    if expected_state and expected_state != case.state:
        raise CaseConflict(conflict_message(case))
    method = check_transition(case, name, by, data)
    source = case.state
    try:
        with transaction.atomic():
            if name == "resolve":
                method(resolution=data.resolution.strip())
            else:
                method()
            case.updated_at = timezone.now()
            case.save()
            CaseEvent.objects.create(
                case=case,
                customer_id=case.customer_id,
                kind=CaseEventKind.TRANSITION,
                transition=name,
                source=source,
                target=case.state,
                reason=(data.reason or data.resolution).strip(),
                by=by,
            )
    except ConcurrentTransition:
        current = Case.objects.get(pk=case.pk)
        raise CaseConflict(conflict_message(current)) from None
    return case


def conflict_message(current: Case) -> str:
    return _(
        "Someone else changed this case meanwhile. It is now %(state)s; nothing was changed."
    ) % {"state": CaseState(current.state).label}
