"""Outbound messages and proactive status notifications, through an outbox.

A notification is an `OutboundMessage` row written in the same transaction as the event
that causes it (a transition, a new case from intake), with an idempotency key derived
from that event, so a retried transaction or task can never make a second one. After
commit a django-q2 task delivers it: the row is locked while it is sent, marked sent in the
same transaction, and recorded on the customer's timeline. A crash between the gateway's
acceptance and our commit leaves the row queued; the retry sends it again with the same
idempotency key (the `X-CPM-Idempotency-Key` header), which a gateway uses to drop the
repeat. E-mail goes through Django's e-mail backend; SMS, chat and social through their
HTTP gateway (`cases.gateway`, `Idempotency-Key` header) when one is configured, else the
log backend (the demo). A message that fails for good (a gateway's 4xx at once, anything
else after MAX_ATTEMPTS) lands in the exception queue.

Agents' replies (`cases.replies`) use the same outbox and task: their row is written with
the outbound interaction already on the timeline, so delivery only marks it sent.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, time, timedelta

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import DEFAULT_DB_ALIAS, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_q.conf import Conf
from django_q.models import Schedule
from django_q.tasks import async_task, schedule

from cases import services
from cases.gateway import GatewayRefused, gateway_configured, gateway_send
from cases.models import Case, CaseEvent, CaseState, OutboundMessage, OutboundStatus
from cases.notices import notice_visible
from cpm.broker import BROKER_CLASS
from cpm.rows import Query, keys_give, keys_query, placeholders, rows_insert
from customers.models import ContactKind, ContactPoint, Customer, Direction
from customers.selectors import addresses_query, customer_reachable
from customers.services import interaction_record

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
QUIET_FROM, QUIET_UNTIL = time(21, 0), time(8, 0)
ROUTES = {"email": [ContactKind.EMAIL], "sms": [ContactKind.MOBILE]}
# Reachable only through a gateway: without one there is nowhere to deliver them.
GATEWAY_ROUTES = {"chat": [ContactKind.MESSENGER], "social": [ContactKind.SOCIAL]}
DELIVER_TASK = "cases.tasks.deliver_outbound"
DELIVER_MANY_TASK = "cases.tasks.deliver_outbound_many"
RECEIVED_SUFFIX = "-received"  # the idempotency key of an acknowledgement ends so


def notice_text(case: Case, state: str) -> tuple[str, str]:
    """Subject and text for a state, in the active language."""
    ref = case.reference
    texts = {
        CaseState.NEW: _(
            "We have received your message and opened case %(ref)s. "
            "Please quote it when you contact us again."
        ),
        CaseState.WAITING_CUSTOMER: _(
            "We need something from you to go on with case %(ref)s; please reply to this message."
        ),
        CaseState.ESCALATED: _("Case %(ref)s has been passed to a specialist."),
        CaseState.RESOLVED: _("Case %(ref)s is resolved: %(resolution)s"),
    }
    text = texts.get(state, _("Case %(ref)s has a new status."))
    subject = _("Your case %(ref)s") % {"ref": ref}
    return subject, text % {"ref": ref, "resolution": case.resolution or "-"}


def quiet_until(now: datetime) -> datetime | None:
    """For SMS: 08:00 local time when `now` is in the quiet hours (21:00 to 08:00), else None."""
    local = timezone.localtime(now)
    if QUIET_UNTIL <= local.time() < QUIET_FROM:
        return None
    day = local.date() + timedelta(days=1) if local.time() >= QUIET_FROM else local.date()
    return datetime.combine(day, QUIET_UNTIL, tzinfo=local.tzinfo)


def channel_routes() -> dict[str, list[str]]:
    """The channels we can write to now and the contact point kinds each one uses."""
    gateways = {ch: kinds for ch, kinds in GATEWAY_ROUTES.items() if gateway_configured(ch)}
    return {**ROUTES, **gateways}


def notice_route(customer: Customer, used: str = "") -> tuple[str, str] | None:
    """The channel and address to tell the customer on: the channel they used last (or
    `used`), then their preferred one, then e-mail, then SMS."""
    routes = channel_routes()
    reachable = customer_reachable(
        customer_id=customer.pk, kinds=[kind for kinds in routes.values() for kind in kinds]
    )
    used = used or reachable.last_inbound_channel
    return route_choose(routes, reachable.addresses, [used, customer.preferred_channel])


def route_choose(
    routes: dict[str, list[str]], addresses: list[tuple[str, str]], first: list[str]
) -> tuple[str, str] | None:
    """The first of the channels `first`, then e-mail, then SMS, that the customer has an
    address for (addresses as (kind, normalised), primary first)."""
    for channel in (ch for ch in dict.fromkeys([*first, "email", "sms"]) if ch in routes):
        kinds = routes[channel]
        found = next((value for kind, value in addresses if kind in kinds), None)
        if found is not None:
            return channel, found
    return None


def outbound_queue(
    *,
    customer: Customer,
    case: Case | None,
    key: str,
    subject: str,
    body: str,
    used: str = "",
    key_is_new: bool = False,
) -> OutboundMessage | None:
    """Write the message to the outbox (once per key) and deliver it after commit.

    `key_is_new`: the key names a cause written in this very transaction (a new event), so
    no row can hold it yet and the row is inserted straight away; the unique key still
    refuses a second one.
    """
    route = notice_route(customer, used)
    if route is None:
        return None
    channel, recipient = route
    values = {
        "customer": customer,
        "case": case,
        "channel": channel,
        "recipient": recipient,
        "subject": subject[:300],
        "body": body[:5000],
        "not_before": quiet_until(timezone.now()) if channel == "sms" else None,
    }
    if key_is_new:
        message, created = OutboundMessage.objects.create(idempotency_key=key, **values), True
    else:
        message, created = OutboundMessage.objects.get_or_create(
            idempotency_key=key, defaults=values
        )
    if created:
        delivery_enqueue(message.pk)
    return message


def delivery_enqueue_many(pks: list[int]) -> None:
    """One task for several messages (`delivery_enqueue` says when it is written)."""
    if len(pks) == 1:
        delivery_enqueue(pks[0])
    elif queue_in_this_transaction():
        async_task(DELIVER_MANY_TASK, pks)
    else:
        transaction.on_commit(lambda: async_task(DELIVER_MANY_TASK, pks))


def delivery_enqueue(pk: int) -> None:
    """Ask django-q2 to deliver message `pk` once it is committed.

    With the ORM broker on this database the task row is written in this very transaction:
    it commits (or rolls back) with the message, so a crash right after the commit cannot
    lose it, and the transition commits once instead of twice. With Redis, or run in-process
    (`Q_SYNC`), only after the commit, when the worker can see the message.
    """
    if queue_in_this_transaction():
        async_task(DELIVER_TASK, pk)
    else:
        transaction.on_commit(lambda: async_task(DELIVER_TASK, pk))


def queue_in_this_transaction() -> bool:
    """django-q2 keeps its queue in this database (the ORM broker, django-q2's own or ours),
    and tasks are not run in-process."""
    orm_broker = Conf.BROKER_CLASS in (None, BROKER_CLASS)
    return Conf.ORM == DEFAULT_DB_ALIAS and orm_broker and not Conf.SYNC


def notify_received_many(cases: list[tuple[Case, str]], reads: list) -> list[OutboundMessage]:
    """Acknowledge new cases that customers' own messages opened (an answer to their
    contact, so it goes out even without a standing consent to service contact), each on
    the channel its message came on if it can be. Called in the transaction that made the
    cases; the addresses are read and the messages written with one statement each, and
    one task delivers them all, message by message.

    At most `CPM_ACKNOWLEDGEMENTS_PER_HOUR` acknowledgements go to one address in an hour:
    a robot that writes again and again (an auto-responder we did not recognise) gets its
    cases, not an answer to each (RELIABILITY.md).

    `reads`: what `received_queries` made (the caller asks them with its own reads).
    """
    if not cases:
        return []
    routes = channel_routes()
    now = timezone.now()
    addresses, sent, (keys,) = reads
    chosen = []
    for case, used in cases:
        customer = case.customer
        route = route_choose(routes, addresses[customer.pk], [used, customer.preferred_channel])
        if route is not None:
            chosen.append((case, route))
    messages = []
    for case, (channel, recipient) in chosen:
        sent[recipient] = sent.get(recipient, 0) + 1
        if sent[recipient] > settings.CPM_ACKNOWLEDGEMENTS_PER_HOUR:
            logger.info("acknowledgement of case %s held back: its address had enough", case.pk)
            continue
        customer = case.customer
        with translation.override(customer.language):
            subject, text = notice_text(case, CaseState.NEW)
        messages.append(
            OutboundMessage(
                idempotency_key=f"case-{case.pk}{RECEIVED_SUFFIX}",
                customer=customer,
                case=case,
                channel=channel,
                recipient=recipient,
                subject=subject[:300],
                body=text[:5000],
                not_before=quiet_until(now) if channel == "sms" else None,
            )
        )
    if messages:
        keys_give(messages, keys)
        rows_insert(OutboundMessage, messages)
        delivery_enqueue_many([message.pk for message in messages])
    return messages


def received_queries(customer_ids: list[int], *, now: datetime) -> tuple[Query, Query, Query]:
    """What acknowledging new cases of these customers reads first, each independent of the
    others and of the cases themselves, to ask in one round trip: their addresses, how many
    acknowledgements each of those addresses got in the last hour, and keys for the
    outbox rows (at most one per case)."""
    kinds = [kind for kinds in channel_routes().values() for kind in kinds]
    return (
        addresses_query(customer_ids=customer_ids, kinds=kinds),
        acknowledged_query(customer_ids, kinds, now=now),
        keys_query((OutboundMessage, len(customer_ids))),
    )


def acknowledged_query(
    customer_ids: list[int], kinds: list[str], *, now: datetime
) -> Query[dict[str, int]]:
    """How many acknowledgements each active address (of these kinds) of these customers
    got in the last hour, by address (one statement)."""
    ids = sorted(set(customer_ids))
    if not ids or not kinds:
        return Query("", [], dict)
    # Plain SQL: asked for every message that opens a case (the ORM's statement cost more
    # CPU to compose than the database takes to answer it).
    sql = f"""SELECT recipient, COUNT(*) FROM {OutboundMessage._meta.db_table}
            WHERE recipient IN (
                SELECT normalised FROM {ContactPoint._meta.db_table}
                WHERE active AND customer_id IN ({placeholders(ids)})
                  AND kind IN ({placeholders(kinds)}))
              AND created_at >= %s AND idempotency_key LIKE %s
            GROUP BY recipient"""
    params = [*ids, *kinds, now - timedelta(hours=1), f"%{RECEIVED_SUFFIX}"]
    return Query(sql, params, dict)


def notify_transition(*, case: Case, event: CaseEvent) -> OutboundMessage | None:
    """Tell the customer about a customer-visible state, if they consented to service
    contact; one message per transition (the event's key)."""
    if not notice_visible(case_type_id=case.case_type_id, state=case.state):
        return None
    customer = case.customer
    if not customer.consent_service:
        return None
    with translation.override(customer.language):
        subject, text = notice_text(case, case.state)
    return outbound_queue(
        customer=customer,
        case=case,
        key=f"case-event-{event.pk}",
        subject=subject,
        body=text,
        key_is_new=True,
    )


class MailSession:
    """One connection to the mail server for the e-mails of a task (a task delivers the
    acknowledgements of a whole intake group): opened at the first e-mail, closed at the
    end, and dropped after a failure, so that the next e-mail opens a fresh one. Django's
    e-mail backend otherwise connects and logs in anew for every message."""

    def __init__(self) -> None:
        self.backend: BaseEmailBackend | None = None

    def send(self, email: EmailMessage) -> None:
        if self.backend is None:
            backend = get_connection()
            backend.open()
            self.backend = backend
        email.connection = self.backend
        try:
            email.send()
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        if self.backend is not None:
            backend, self.backend = self.backend, None
            with contextlib.suppress(Exception):  # a connection the server dropped already
                backend.close()

    def __enter__(self) -> MailSession:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def backend_send(message: OutboundMessage, mail: MailSession | None = None) -> None:
    """Hand the message to its channel's backend (e-mail over `mail`'s connection, if
    given); raises when the backend refuses."""
    if message.channel == "email":
        email = EmailMessage(
            subject=message.subject,
            body=message.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[message.recipient],
            headers={
                # An agent's reply is written by a person (RFC 3834): no Auto-Submitted.
                **({} if message.by_id else {"Auto-Submitted": "auto-generated"}),
                "X-CPM-Idempotency-Key": message.idempotency_key,
            },
        )
        if mail is None:
            email.send()
        else:
            mail.send(email)
        return
    if gateway_configured(message.channel):
        gateway_send(message)
        return
    # Log backend (the demo, channels without a gateway): no personal data in the log.
    logger.info("outbound %s message %s delivered (log backend)", message.channel, message.pk)


def outbound_deliver(*, pk: int, mail: MailSession | None = None) -> OutboundMessage:
    """Send one queued message once (an e-mail over `mail`'s connection, if given); on
    failure retry with back-off, then give up into the exception queue."""
    now = timezone.now()
    with transaction.atomic():
        message = (
            OutboundMessage.objects.select_for_update(of=("self",))
            .select_related("case")
            .get(pk=pk)
        )
        if message.status != OutboundStatus.QUEUED:
            return message
        if message.not_before and message.not_before > now:
            retry_at(message, message.not_before)
            return message
        try:
            backend_send(message, mail)
        except Exception as error:  # any backend failure: keep the message, retry or escalate
            outbound_failed(message, error, now=now)
            return message
        message.status = OutboundStatus.SENT
        message.sent_at = now
        message.attempts += 1
        # An agent's reply is on the timeline since it was written; a notification from now.
        message.interaction = message.interaction or interaction_record(
            customer=message.customer,
            channel=message.channel,
            direction=Direction.OUTBOUND,
            occurred_at=now,
            subject=message.subject,
            body=message.body,
            case_reference=message.case.reference if message.case else "",
        )
        message.save(update_fields=["status", "sent_at", "attempts", "interaction"])
    return message


def outbound_failed(message: OutboundMessage, error: Exception, *, now: datetime) -> None:
    """Retry later with back-off (2, 4, 8 ... minutes); a refusal for good, or the last
    attempt, goes to the exception queue."""
    message.attempts += 1
    message.last_error = f"{type(error).__name__}: {error}"[:2000]
    if message.attempts >= MAX_ATTEMPTS or isinstance(error, GatewayRefused):
        message.status = OutboundStatus.FAILED
        services.exception_raise(
            source="outbox",
            reason=_("A %(channel)s message could not be delivered: %(error)s")
            % {"channel": message.channel, "error": message.last_error},
            case=message.case,
        )
    else:
        retry_at(message, now + timedelta(minutes=2**message.attempts))
    message.save(update_fields=["attempts", "last_error", "status"])


def retry_at(message: OutboundMessage, when: datetime) -> None:
    pk = message.pk
    transaction.on_commit(
        lambda: schedule(
            DELIVER_TASK,
            pk,
            name=f"outbound-{pk}-{when:%Y%m%d%H%M%S}",
            schedule_type=Schedule.ONCE,
            next_run=when,
        )
    )
