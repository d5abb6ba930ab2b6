"""Omnichannel intake: channel keys, storing a message once, finding its customer and case.

The order of work follows RELIABILITY.md: the raw message is inserted first, in the same
transaction as everything it causes, and `(channel, external_id)` is unique, so a
redelivered or concurrently delivered message meets the constraint and is answered with
what the first delivery made. Processing runs in a savepoint: when it fails, the raw row
is kept as "failed" with the error and goes to the exception queue, where a supervisor can
process it again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr

import nh3
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from cases.models import (
    AttachReason,
    Case,
    CaseType,
    ChannelKey,
    ExceptionItem,
    InboundMessage,
    InboundStatus,
    IntakeRule,
    UsedSignature,
)
from cases.outbox import notify_received
from cases.quotes import quoted_history_trim
from cases.services import case_create, case_note_add, exception_decide, exception_raise
from customers.models import Customer, Direction, Interaction
from customers.selectors import (
    SenderAddress,
    customer_by_reference,
    customers_by_sender,
    sender_address,
)
from customers.services import attachment_add, interaction_record, prospect_create

CASE_REFERENCE = re.compile(r"\bC-\d{4}-\d{6}\b", re.IGNORECASE)
SIGNATURE_TOLERANCE = timedelta(minutes=5)
# A key's last use is written at most this often: a gateway posting hundreds of messages a
# second must not write (and lock) its key's row with every one of them.
KEY_USE_PRECISION = timedelta(minutes=1)
DEFAULT_CASE_TYPE = "General inquiry"
INTAKE_SOURCE = "intake-retry"  # a stored message that failed: "Process again"
IDENTIFY_SOURCE = "to-identify"


# --- channel keys ------------------------------------------------------------------------


def channel_key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()


def channel_key_create(
    *, channel: str, name: str, require_signature: bool = False
) -> tuple[ChannelKey, str]:
    """A new key for `channel`: the row (with the key's hash only) and the key, to show once."""
    key = f"cpm_{channel}_{secrets.token_urlsafe(32)}"
    row = ChannelKey(
        channel=channel,
        name=name,
        prefix=key[: len(channel) + 9],
        key_hash=channel_key_hash(key),
        require_signature=require_signature,
    )
    row.full_clean()
    row.save()
    return row, key


def channel_key_revoke(*, key: ChannelKey) -> ChannelKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def channel_key_check(*, channel: str, key: str) -> ChannelKey | None:
    """The live key of `channel` that `key` is, with its last use recorded (to the minute);
    else None."""
    found = ChannelKey.objects.filter(
        channel=channel, key_hash=channel_key_hash(key), revoked_at__isnull=True
    ).first()
    if found is not None:
        now = timezone.now()
        if found.last_used_at is None or now - found.last_used_at >= KEY_USE_PRECISION:
            found.last_used_at = now
            ChannelKey.objects.filter(pk=found.pk).update(last_used_at=now)
    return found


def signature_expected(*, key: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>`: the HMAC-SHA256, keyed with the channel key, of `<timestamp>.<body>`."""
    message = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def signature_check(
    *, key: str, body: bytes, timestamp: str, signature: str, now: datetime
) -> str | None:
    """None when the signature is valid, fresh and new; else why it is refused."""
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12) or not signature:
        return _("A signed request needs X-CPM-Signature and X-CPM-Timestamp (Unix seconds).")
    sent = datetime.fromtimestamp(min(int(timestamp), 2**33), tz=UTC)
    if abs(now - sent) > SIGNATURE_TOLERANCE:
        return _("The request's timestamp is more than five minutes off.")
    expected = signature_expected(key=key, timestamp=timestamp, body=body)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode("utf-8", "replace")):
        return _("The signature does not match the body.")
    UsedSignature.objects.filter(at__lt=now - 2 * SIGNATURE_TOLERANCE).delete()
    try:
        with transaction.atomic():
            UsedSignature.objects.create(digest=expected[7:], at=now)
    except IntegrityError:
        return _("This signed request was already received (a replay).")
    return None


# --- content ------------------------------------------------------------------------------


def clean_text(value: str) -> str:
    """Untrusted text made storable: no NUL bytes, no lone surrogates."""
    return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def clean_payload(value: object) -> object:
    """The same for every string (keys too) in a parsed JSON document."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_payload(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_payload(item) for item in value]
    return value


def html_to_text(markup: str) -> str:
    return html.unescape(nh3.clean(markup, tags=set())).strip()


def raw_email_decode(raw: str) -> bytes:
    """The RFC 822 bytes of a base64 `raw` field; ValueError when it is not base64."""
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(_("This is not valid base64.")) from None


def email_parse(raw: str) -> EmailMessage:
    """The raw e-mail of a base64 `raw` field, parsed once for its fields and its files."""
    return BytesParser(policy=policy.default).parsebytes(raw_email_decode(raw))


def email_fields(message: EmailMessage) -> dict[str, str]:
    """From, subject, text and In-Reply-To/References of an e-mail (plain text preferred,
    HTML reduced to text)."""
    part = message.get_body(preferencelist=("plain", "html"))
    text = ""
    if part is not None:
        try:
            text = part.get_content()
        except (LookupError, UnicodeError):  # an unknown charset: keep the bytes readable
            text = (part.get_payload(decode=True) or b"").decode("latin-1")
        if part.get_content_type() == "text/html":
            text = html_to_text(text)
    replies = f"{message.get('In-Reply-To', '')} {message.get('References', '')}"
    return {
        "from": parseaddr(str(message.get("From", "")))[1],
        "subject": str(message.get("Subject", "")),
        # Mail travels with CRLF line ends (SMTP); the timeline keeps plain newlines.
        "body": clean_text(text.replace("\r\n", "\n").replace("\r", "\n").strip()),
        "in_reply_to": replies.strip(),
        "automatic": "yes" if mail_is_automatic(message) else "",
    }


AUTOMATIC_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
AUTOMATIC_HEADERS = ("X-Loop", "X-Autoreply", "X-Autorespond", "X-Autoresponder")
AUTOMATIC_SENDERS = {"mailer-daemon", "postmaster"}


def mail_is_automatic(message: EmailMessage) -> bool:
    """Whether a machine wrote this mail (RFC 3834 `Auto-Submitted`, `Precedence`, loop
    headers, a delivery or read report): it is kept, but never answered automatically, or
    two robots answer each other for ever (RELIABILITY.md)."""
    submitted = str(message.get("Auto-Submitted", "no")).split(";")[0].strip().lower()
    precedence = str(message.get("Precedence", "")).strip().lower()
    return (
        submitted != "no"
        or precedence in AUTOMATIC_PRECEDENCE
        or any(message.get(name) is not None for name in AUTOMATIC_HEADERS)
        or message.get_content_type() == "multipart/report"
    )


def sender_is_automatic(sender: str) -> bool:
    """A mailer daemon or our own sending address: never answered automatically."""
    address = sender.strip().lower()
    own = settings.DEFAULT_FROM_EMAIL.strip().lower()
    return address == own or address.partition("@")[0] in AUTOMATIC_SENDERS


ATTACHMENTS_MAX = 20  # per message; more are recorded as not stored


@dataclass(frozen=True)
class MailAttachment:
    filename: str
    content_type: str
    data: bytes


def email_attachments(message: EmailMessage) -> list[MailAttachment]:
    """The attachments of an e-mail, in order."""
    found = []
    for part in message.iter_attachments():
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):  # an attached message: keep it as it was sent
            data = part.as_bytes()
        name = part.get_filename() or _("attachment")
        found.append(MailAttachment(str(name), part.get_content_type(), data))
    return found


def attachments_store(attachments: tuple[MailAttachment, ...], interaction: Interaction) -> None:
    """Store the files of a raw e-mail on its interaction (size and count limited)."""
    for index, item in enumerate(attachments):
        attachment_add(
            interaction=interaction,
            filename=item.filename,
            content_type=item.content_type,
            data=item.data,
            omit=index >= ATTACHMENTS_MAX,
        )


@dataclass(frozen=True)
class Message:
    """The fields of a stored payload that intake works with."""

    channel: str
    sender: str
    subject: str
    body: str
    sent_at: datetime | None
    customer_ref: str
    case_ref: str
    replies_to: tuple[str, ...]
    network: str
    # The text as delivered, quoted history included (`body` is without it for e-mail):
    # a case reference in the quote still finds the case.
    full_body: str = ""
    # Written by a machine (an auto-reply, a bounce, our own mail): kept, never answered.
    automatic: bool = False
    attachments: tuple[MailAttachment, ...] = ()  # of a raw e-mail

    @property
    def text(self) -> str:
        return f"{self.subject}\n{self.body}"


def message_from_payload(channel: str, payload: dict) -> Message:
    fields = {key: str(payload.get(key) or "") for key in ("from", "subject", "body")}
    fields["in_reply_to"] = str(payload.get("in_reply_to") or "")
    automatic, attachments = False, ()
    if channel == "email" and payload.get("raw"):
        mail = email_parse(str(payload["raw"]))
        parsed = email_fields(mail)
        fields = {key: fields[key] or parsed[key] for key in fields}
        automatic, attachments = bool(parsed["automatic"]), tuple(email_attachments(mail))
    meta = payload.get("meta") if isinstance(payload.get("meta"), dict) else {}
    if channel == "phone" and not fields["body"]:
        fields["body"] = str(meta.get("wrap_up") or "")
    if channel == "phone" and not fields["subject"]:
        fields["subject"] = phone_subject(meta.get("duration"))
    sent_at = parse_datetime(str(payload.get("sent_at") or ""))
    if sent_at is not None and timezone.is_naive(sent_at):
        sent_at = timezone.make_aware(sent_at, UTC)
    ids = tuple(i.strip("<>") for i in fields["in_reply_to"].split() if i.strip("<>"))
    body = quoted_history_trim(fields["body"]) if channel == "email" else fields["body"]
    return Message(
        channel=channel,
        sender=fields["from"],
        subject=" ".join(fields["subject"].split())[:300],
        body=body,
        full_body=fields["body"],
        sent_at=sent_at,
        customer_ref=str(payload.get("customer_ref") or ""),
        case_ref=str(payload.get("case_ref") or ""),
        replies_to=ids[:20],
        network=str(meta.get("network") or ""),
        automatic=automatic or (channel == "email" and sender_is_automatic(fields["from"])),
        attachments=attachments,
    )


def phone_subject(duration: object) -> str:
    try:
        minutes = max(1, round(int(str(duration)) / 60))
    except ValueError:
        return _("Call")
    return _("Call, %(minutes)s min") % {"minutes": minutes}


# --- identity and threading --------------------------------------------------------------


@dataclass
class Sender:
    """Who sent the message, as far as intake can tell without guessing."""

    address: SenderAddress | None
    by_contact: list[Customer]
    by_reference: Customer | None

    @property
    def customer(self) -> Customer | None:
        """The one customer, or None when unknown or ambiguous."""
        if len(self.by_contact) == 1:
            return self.by_contact[0]
        if len(self.by_contact) > 1:
            return self.by_reference if self.by_reference in self.by_contact else None
        return self.by_reference

    def is_contact_of(self, customer: Customer) -> bool:
        return customer in self.by_contact


def sender_resolve(message: Message) -> Sender:
    address = sender_address(
        channel=message.channel, sender=message.sender, network=message.network
    )
    return Sender(
        address=address,
        by_contact=customers_by_sender(address=address) if address else [],
        by_reference=customer_by_reference(reference=message.customer_ref),
    )


def case_by_reference(message: Message) -> tuple[Case | None, str]:
    """The case a quoted reference names: the channel's case_ref, then subject, then text."""
    sources = [
        (message.case_ref, AttachReason.CASE_REF),
        (message.subject, AttachReason.REF_SUBJECT),
        (message.full_body or message.body, AttachReason.REF_TEXT),
    ]
    for text, reason in sources:
        references = {m.upper() for m in CASE_REFERENCE.findall(text[:20_000])}
        if references:
            case = (
                Case.objects.filter(reference__in=sorted(references)[:5])
                .select_related("customer")
                .first()
            )
            if case is not None:
                return case, reason
    return None, ""


def case_by_reply(message: Message) -> tuple[Case | None, str]:
    """The case of the message this one answers (In-Reply-To / References)."""
    if not message.replies_to:
        return None, ""
    wanted = [*message.replies_to, *(f"<{i}>" for i in message.replies_to)]
    original = (
        InboundMessage.objects.filter(external_id__in=wanted, case__isnull=False)
        .select_related("case__customer")
        .order_by("-received_at")
        .first()
    )
    if original is None:
        return None, ""
    return original.case, AttachReason.REPLY


def rule_case_type(message: Message) -> tuple[CaseType | None, bool]:
    """The case type the first matching intake rule names (and True), else the default type."""
    text = message.text.lower()
    rules = IntakeRule.objects.select_related("case_type__default_team").order_by("position", "id")
    for rule in rules:
        if rule.channel and rule.channel != message.channel:
            continue
        words = rule.keyword_list()
        if not words or any(word in text for word in words):
            return rule.case_type, True
    default = CaseType.objects.filter(name_en__iexact=DEFAULT_CASE_TYPE).select_related(
        "default_team"
    )
    return default.first(), False


def case_open_for(customer: Customer, case_type: CaseType | None, specific: bool) -> Case | None:
    """The customer's most recently active open case within the window, on any channel; when
    the rules chose a specific type, only a case of that type."""
    since = timezone.now() - timedelta(days=settings.CPM_INTAKE_THREAD_DAYS)
    cases = Case.objects.active().filter(customer=customer, updated_at__gte=since)
    if specific and case_type is not None:
        cases = cases.filter(case_type=case_type)
    return cases.select_related("case_type").order_by("-updated_at", "-id").first()


def type_names(case_type: CaseType | None) -> dict[str, str]:
    if case_type is None:
        return {}
    return {"type_de": case_type.name_de, "type_en": case_type.name_en}


# --- receiving and processing ------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    message: InboundMessage
    duplicate: bool


def inbound_receive(*, channel: str, payload: dict, key: ChannelKey | None = None) -> Received:
    """Store the message once and process it; a redelivery returns the first delivery's row."""
    external_id = str(payload["external_id"])
    try:
        with transaction.atomic():
            message = InboundMessage.objects.create(
                channel=channel, external_id=external_id, payload=payload, key=key
            )
            inbound_process(message=message)
    except IntegrityError:
        existing = InboundMessage.objects.select_related("case").get(
            channel=channel, external_id=external_id
        )
        return Received(existing, duplicate=True)
    return Received(message, duplicate=False)


def inbound_process(*, message: InboundMessage) -> InboundMessage:
    """Find the customer and case, record the interaction. A failure marks the message failed
    and puts it in the exception queue; the raw message stays."""
    try:
        with transaction.atomic():
            inbound_attach(message)
    except Exception as error:  # anything at all: the message must not be lost
        message.status = InboundStatus.FAILED
        message.error = f"{type(error).__name__}: {error}"[:2000]
        message.exception = exception_raise(
            source=INTAKE_SOURCE,
            reason=_("Inbound %(channel)s message %(id)s could not be processed: %(error)s")
            % {"channel": message.channel, "id": message.external_id[:80], "error": message.error},
        )
        message.save(update_fields=["status", "error", "exception"])
    return message


def merged_target(case: Case | None) -> Case | None:
    """A message for a case merged into another goes where the matter goes on.

    A case that holds merged cases is never merged itself (`case_merge`), so one step is
    enough; the bound only guards against data made some other way.
    """
    for _step in range(3):
        if case is None or case.merged_into_id is None:
            return case
        case = case.merged_into
    return case


def inbound_attach(message: InboundMessage) -> None:
    data = message_from_payload(message.channel, message.payload)
    sender = sender_resolve(data)
    params: dict[str, object] = {}
    case, reason = case_by_reference(data)
    if case is None:
        case, reason = case_by_reply(data)
    case = merged_target(case)
    needs_confirmation = case is not None and not sender.is_contact_of(case.customer)
    identify = ""
    created = False
    if case is not None:
        customer = case.customer
    else:
        customer = sender.customer
        if customer is None:
            customer, identify = prospect_for(data, sender)
        case_type, specific = rule_case_type(data)
        case = case_open_for(customer, case_type, specific) if not identify else None
        if case is not None:
            reason = AttachReason.OPEN_CASE
            days = (timezone.now() - case.updated_at).days
            params = {**type_names(case.case_type), "days": days}
        else:
            case = case_create(
                customer=customer, subject=case_subject(data), by=None, case_type=case_type
            )
            if not data.automatic:  # an auto-reply is never answered by another
                notify_received(case=case, used=message.channel)
            reason, params = AttachReason.NEW_CASE, type_names(case_type)
            created = True
    interaction = interaction_record(
        customer=customer,
        channel=message.channel,
        direction=Direction.INBOUND,
        occurred_at=data.sent_at or message.received_at,
        subject=data.subject,
        body=data.body,
        case_reference=case.reference,
    )
    attachments_store(data.attachments, interaction)
    if not created:  # a new case was active just now, when it was made
        Case.objects.filter(pk=case.pk).update(updated_at=timezone.now())
    if identify:
        exception_raise(source=IDENTIFY_SOURCE, reason=identify, case=case)
    message.customer = customer
    message.case = case
    message.interaction = interaction
    message.reason = reason
    message.reason_params = params
    message.needs_confirmation = needs_confirmation
    message.status = InboundStatus.PROCESSED
    message.error = ""
    message.processed_at = timezone.now()
    message.save(update_fields=PROCESSED_FIELDS)


# What processing writes to a stored message: never the payload, which stays as received.
PROCESSED_FIELDS = [
    "customer",
    "case",
    "interaction",
    "reason",
    "reason_params",
    "needs_confirmation",
    "status",
    "error",
    "processed_at",
]


def prospect_for(data: Message, sender: Sender) -> tuple[Customer, str]:
    """A prospect for an unknown or ambiguous sender, and the reason to identify it."""
    name = data.sender.strip()[:200] or _("Unknown sender")
    if sender.by_contact:
        numbers = ", ".join(c.number for c in sender.by_contact)
        prospect = prospect_create(name=name, address=None)
        why = _("%(sender)s is a contact of several customers (%(numbers)s): which one wrote?")
        return prospect, why % {"sender": name, "numbers": numbers}
    prospect = prospect_create(name=name, address=sender.address)
    why = _("Unknown sender %(sender)s: a prospect %(number)s was created; link it to a customer.")
    return prospect, why % {"sender": name, "number": prospect.number}


def case_subject(data: Message) -> str:
    if data.subject:
        return data.subject[:200]
    first_line = next((line.strip() for line in data.body.splitlines() if line.strip()), "")
    return first_line[:80] or _("Message via %(channel)s") % {"channel": data.channel}


@transaction.atomic
def inbound_reprocess(*, item: ExceptionItem, by: AbstractBaseUser) -> InboundMessage:
    """Process a failed message again (the exception queue's retry button)."""
    message = InboundMessage.objects.select_for_update().get(exception=item)
    if message.status != InboundStatus.PROCESSED:
        inbound_process(message=message)
    if message.status == InboundStatus.PROCESSED:
        exception_decide(item=item, by=by, decision=_("Processed again."))
    return message


@transaction.atomic
def inbound_confirm(*, message: InboundMessage, by: AbstractBaseUser) -> InboundMessage:
    """An agent confirms that a flagged message belongs to its case; noted on the case."""
    if InboundMessage.objects.filter(pk=message.pk, needs_confirmation=True).update(
        needs_confirmation=False
    ):
        message.needs_confirmation = False
        case_note_add(
            case=message.case,
            by=by,
            text=_("Confirmed that the %(channel)s message from %(sender)s belongs to this case.")
            % {"channel": message.channel, "sender": str(message.payload.get("from") or "?")[:200]},
        )
    return message
