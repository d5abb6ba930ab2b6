"""Agent replies from the case screen: which channels, reply templates, sending via the outbox.

A reply is written in one transaction: the outbox row (delivered after commit by the same
task as every notification), the outbound interaction on the customer's timeline and a
case event. The form carries a token drawn with it, which becomes the idempotency key, so
a double click or a retried request sends one message. The reply may go out on a channel
for which the customer has an active contact point, and only if the customer consented to
service contact or wrote to us on this case themselves (a reply answers their contact,
the same rule as the acknowledgement of a new case in `cases.outbox`).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from cases.models import (
    Case,
    CaseEvent,
    CaseEventKind,
    CaseState,
    InboundChannel,
    OutboundMessage,
    ReplyTemplate,
)
from cases.outbox import channel_routes, delivery_enqueue, quiet_until
from cases.placeholders import placeholders_fill
from cases.services import CaseActionError, CaseConflict, TransitionRefused
from customers.models import Direction, Interaction
from customers.services import interaction_record

SUBJECT_MAX = 300
BODY_MAX = {"email": 5000, "sms": 1600, "chat": 4000, "social": 2000}
NEXT_STEP_MAX = 300
REPLIES_SHOWN = 20
CLOSED_STATES = (CaseState.CLOSED, CaseState.CANCELLED)
TOKEN = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class ReplyChannel:
    channel: str
    label: str
    recipient: str


def reply_token() -> str:
    return uuid.uuid4().hex


def reply_allowed(case: Case) -> bool:
    """Consent to service contact, or the customer wrote to us on this case."""
    if case.customer.consent_service:
        return True
    return Interaction.objects.filter(
        customer_id=case.customer_id,
        case_reference=case.reference,
        direction=Direction.INBOUND,
    ).exists()


def reply_channels(case: Case) -> list[ReplyChannel]:
    """The channels this customer can be answered on now, with the address: e-mail and SMS,
    chat and social media where a gateway for them is configured."""
    if not reply_allowed(case):
        return []
    contacts = case.customer.contact_points.active().order_by("-primary", "id")
    first: dict[str, str] = {}
    for contact in contacts:
        first.setdefault(contact.kind, contact.normalised)
    found = []
    for channel, kinds in channel_routes().items():
        recipient = next((first[kind] for kind in kinds if kind in first), None)
        if recipient:
            label = str(InboundChannel(channel).label)
            found.append(ReplyChannel(channel=channel, label=label, recipient=recipient))
    return found


def reply_default_channel(case: Case, channels: list[ReplyChannel]) -> str:
    """The channel the customer used last on this case, else their preferred one, else the
    first possible one ("" when there is none)."""
    usable = [c.channel for c in channels]
    last = (
        Interaction.objects.filter(
            customer_id=case.customer_id,
            case_reference=case.reference,
            direction=Direction.INBOUND,
        )
        .order_by("-occurred_at", "-id")
        .values_list("channel", flat=True)
        .first()
    )
    for channel in (last, case.customer.preferred_channel):
        if channel in usable:
            return channel
    return usable[0] if usable else ""


def reply_templates() -> list[ReplyTemplate]:
    return list(ReplyTemplate.objects.filter(active=True))


def reply_template_fill(*, template: ReplyTemplate, case: Case, next_step: str) -> tuple[str, str]:
    """The template's subject and text in the customer's language, placeholders filled."""
    values = {
        "customer_name": case.customer.name,
        "case_reference": case.reference,
        "next_step": next_step.strip()[:NEXT_STEP_MAX],
    }
    subject, body = template.texts(case.customer.language)
    return placeholders_fill(subject, values), placeholders_fill(body, values)


def reply_subject_default(case: Case) -> str:
    with translation.override(case.customer.language):
        return _("Your case %(ref)s") % {"ref": case.reference}


def case_replies(*, case: Case, limit: int = REPLIES_SHOWN) -> list[OutboundMessage]:
    """Messages to the customer on this case (replies and notifications), newest first."""
    return list(
        OutboundMessage.objects.filter(case=case)
        .select_related("by")
        .order_by("-created_at", "-id")[:limit]
    )


@transaction.atomic
def reply_send(
    *,
    case: Case,
    by: AbstractBaseUser,
    channel: str,
    subject: str,
    body: str,
    token: str,
    expected_state: str = "",
) -> OutboundMessage:
    """Queue the agent's reply; refuses with a message for the agent and saves nothing."""
    body = body.replace("\x00", "").replace("\r\n", "\n").strip()
    subject = " ".join(subject.replace("\x00", "").split())
    current = (
        Case.objects.select_for_update(of=("self",)).select_related("customer").get(pk=case.pk)
    )
    if expected_state and current.state != expected_state:
        raise CaseConflict(
            _("This case changed meanwhile: it is now %(state)s. Check it, then send again.")
            % {"state": current.get_state_display()}
        )
    if current.state in CLOSED_STATES:
        raise TransitionRefused(
            _("The case is %(state)s; open a follow-up case to write to the customer.")
            % {"state": current.get_state_display()}
        )
    route = {c.channel: c for c in reply_channels(current)}.get(channel)
    if route is None:
        raise CaseActionError(
            _("The customer cannot be reached on this channel (no contact point or no consent).")
        )
    if not body:
        raise CaseActionError(_("Write the reply first."))
    limit = BODY_MAX[channel]
    if len(body) > limit:
        raise CaseActionError(
            _("The reply is too long: %(length)s characters, at most %(limit)s on this channel.")
            % {"length": len(body), "limit": limit}
        )
    if len(subject) > SUBJECT_MAX:
        raise CaseActionError(_("The subject is too long (at most 300 characters)."))
    if channel == "email":
        subject = subject or reply_subject_default(current)
        if current.reference not in subject:  # so the customer's answer finds the case
            subject = f"{subject} [{current.reference}]"[:SUBJECT_MAX]
    key = f"reply-{current.pk}-{token if TOKEN.match(token) else reply_token()}"
    existing = OutboundMessage.objects.filter(idempotency_key=key).first()
    if existing is not None:  # the same form sent twice: one message
        return existing
    now = timezone.now()
    interaction = interaction_record(
        customer=current.customer,
        channel=channel,
        direction=Direction.OUTBOUND,
        occurred_at=now,
        subject=subject,
        body=body,
        agent=by,
        case_reference=current.reference,
    )
    message = OutboundMessage.objects.create(
        idempotency_key=key,
        customer=current.customer,
        case=current,
        channel=channel,
        recipient=route.recipient,
        subject=subject,
        body=body,
        not_before=quiet_until(now) if channel == "sms" else None,
        interaction=interaction,
        by=by,
        created_at=now,
    )
    CaseEvent.objects.create(
        case=current,
        customer_id=current.customer_id,
        kind=CaseEventKind.REPLY,
        reason=_("%(channel)s to %(recipient)s: %(subject)s")
        % {"channel": route.label, "recipient": route.recipient, "subject": subject or "-"},
        by=by,
        at=now,
    )
    Case.objects.filter(pk=current.pk).update(updated_at=now)
    delivery_enqueue(message.pk)
    return message
