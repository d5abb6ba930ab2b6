"""Moving an inbound message to another case of the same customer (or out into a new case),
and undoing that.

A move changes where the message and its interaction are filed, records a `MessageMove`,
and writes an event on both cases, all in one transaction with the message row locked, so
two agents moving the same message end with one move and a clear refusal. Undo puts back
exactly the message of that move, and only while it is still where the move put it.

A message never moves to another customer's case: the interaction is part of the customer's
own timeline (and their data export), so a message that reached the wrong customer is put
right by identifying the sender (the "to identify" exception, or a supervisor's merge),
not by filing it under someone else's case.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.models import (
    Case,
    CaseEvent,
    CaseEventKind,
    CaseState,
    InboundMessage,
    MessageMove,
)
from cases.services import CaseActionError, CaseConflict, case_create
from customers.models import Interaction
from customers.services import interaction_case_reference_set

CLOSED_STATES = (CaseState.CLOSED, CaseState.CANCELLED)


def move_target_check(*, message: InboundMessage, target: Case) -> None:
    if target.pk == message.case_id:
        raise CaseActionError(
            _("The message is already on case %(ref)s.") % {"ref": target.reference}
        )
    if target.customer_id != message.case.customer_id:
        raise CaseActionError(
            _(
                "Case %(ref)s belongs to another customer. A message moves only between cases "
                "of the same customer; if the sender is someone else, identify the sender first."
            )
            % {"ref": target.reference}
        )
    if target.state in CLOSED_STATES:
        raise CaseActionError(
            _("Case %(ref)s is %(state)s; choose an open case or move to a new case.")
            % {"ref": target.reference, "state": target.get_state_display()}
        )


def message_locked(*, message: InboundMessage, on_case: Case) -> InboundMessage:
    """The message row locked, refused when it left `on_case` meanwhile."""
    locked = (
        InboundMessage.objects.select_for_update(of=("self",))
        .select_related("case")
        .get(pk=message.pk)
    )
    if locked.case_id != on_case.pk:
        raise CaseConflict(
            _("This message was moved meanwhile; it is no longer on case %(ref)s.")
            % {"ref": on_case.reference}
        )
    return locked


def refile(message: InboundMessage, source: Case, target: Case, move: MessageMove | None) -> None:
    """Put the message and its interaction on `target`; both cases count as active now."""
    message.case = target
    message.last_move = move
    message.save(update_fields=["case", "last_move"])
    if message.interaction_id:
        interaction = Interaction.objects.get(pk=message.interaction_id)
        interaction_case_reference_set(interaction=interaction, case_reference=target.reference)
    Case.objects.filter(pk__in=[source.pk, target.pk]).update(updated_at=timezone.now())


def move_events(*, source: Case, target: Case, by: AbstractBaseUser, undo: bool) -> None:
    params = {"from": source.reference, "to": target.reference}
    if undo:
        reason_out = _("Move undone: the message went back to %(to)s.") % params
        reason_in = _("Move undone: the message came back from %(from)s.") % params
    else:
        reason_out = _("A message was moved to %(to)s.") % params
        reason_in = _("A message was moved here from %(from)s.") % params
    now = timezone.now()
    CaseEvent.objects.bulk_create(
        [
            CaseEvent(
                case=source,
                customer_id=source.customer_id,
                kind=CaseEventKind.MOVED_OUT,
                reason=reason_out,
                by=by,
                at=now,
            ),
            CaseEvent(
                case=target,
                customer_id=target.customer_id,
                kind=CaseEventKind.MOVED_IN,
                reason=reason_in,
                by=by,
                at=now,
            ),
        ]
    )


@transaction.atomic
def message_move(
    *, message: InboundMessage, case: Case, by: AbstractBaseUser, reference: str = ""
) -> MessageMove:
    """Move a message of `case` to the case `reference` names, or, without a reference, out
    into a new case of the same customer and type."""
    message = message_locked(message=message, on_case=case)
    source = message.case
    reference = reference.strip().upper()
    if reference:
        target = Case.objects.filter(reference=reference).first()
        if target is None:
            raise CaseActionError(_("There is no case %(ref)s.") % {"ref": reference[:40]})
        move_target_check(message=message, target=target)
    else:
        subject = ""
        if message.interaction_id:
            subject = (
                Interaction.objects.filter(pk=message.interaction_id)
                .values_list("subject", flat=True)
                .first()
                or ""
            )
        target = case_create(
            customer=source.customer,
            subject=(subject or source.subject)[:200],
            by=by,
            case_type=source.case_type,
        )
    move = MessageMove.objects.create(
        message=message, from_case=source, to_case=target, new_case=not reference, by=by
    )
    refile(message, source, target, move)
    move_events(source=source, target=target, by=by, undo=False)
    return move


@transaction.atomic
def message_move_undo(*, move: MessageMove, by: AbstractBaseUser) -> MessageMove:
    """Put the message of `move` back on the case it came from."""
    move = (
        MessageMove.objects.select_for_update(of=("self",))
        .select_related("from_case", "to_case")
        .get(pk=move.pk)
    )
    if move.undone_at is not None:
        raise CaseConflict(_("This move was already undone."))
    message = message_locked(message=move.message, on_case=move.to_case)
    if message.last_move_id != move.pk:
        raise CaseConflict(_("The message was moved again since; undo the later move first."))
    if move.from_case.state in CLOSED_STATES:
        raise CaseActionError(
            _("Case %(ref)s is %(state)s now; the message cannot go back there.")
            % {"ref": move.from_case.reference, "state": move.from_case.get_state_display()}
        )
    move.undone_at = timezone.now()
    move.undone_by = by
    move.save(update_fields=["undone_at", "undone_by"])
    earlier = (
        MessageMove.objects.filter(message=message, to_case=move.from_case, undone_at__isnull=True)
        .exclude(pk=move.pk)
        .order_by("-at", "-id")
        .first()
    )
    refile(message, move.to_case, move.from_case, earlier)
    move_events(source=move.to_case, target=move.from_case, by=by, undo=True)
    return move
