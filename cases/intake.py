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
import logging
import re
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr
from functools import cached_property

import nh3
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from cases.coalesce import Coalescer
from cases.memo import Memo
from cases.models import (
    ACTIVE_STATES,
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
from cases.outbox import notify_received_many, received_queries
from cases.quotes import quoted_history_trim
from cases.services import (
    case_note_add,
    cases_create_many,
    cases_draw,
    exception_decide,
    exception_raise,
    exceptions_raise_new,
)
from cpm.rows import (
    Query,
    columns,
    keys_give,
    keys_query,
    placeholders,
    rows_insert,
    rows_pipeline,
    rows_read,
    rows_together,
    rows_write,
)
from customers.models import ContactPoint, Customer, Direction, Interaction
from customers.selectors import (
    SenderAddress,
    customers_by_references,
    reference_clean,
    sender_address,
    senders_condition,
    senders_query,
)
from customers.services import attachment_add, interactions_record_many, prospects_create

logger = logging.getLogger(__name__)

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


def live_keys_load() -> dict[tuple[str, str], ChannelKey]:
    """Every key that is not revoked, by channel and hash."""
    keys = ChannelKey.objects.filter(revoked_at__isnull=True)
    return {(key.channel, key.key_hash): key for key in keys}


# Checked with every request; kept in memory per process (cases.memo): a revocation counts
# at once in this process and within KEYS_TTL seconds in the others. A key made elsewhere
# counts at once: a key not in memory is looked up.
KEYS_TTL = 5.0
LIVE_KEYS = Memo("channel-keys", live_keys_load, ttl=KEYS_TTL)


def channel_key_check(*, channel: str, key: str) -> ChannelKey | None:
    """The live key of `channel` that `key` is, with its last use recorded (to the minute);
    else None."""
    digest = channel_key_hash(key)
    found = LIVE_KEYS.get().get((channel, digest))
    if found is None:  # made since the keys were read, or no key at all: one query
        live = ChannelKey.objects.filter(channel=channel, key_hash=digest, revoked_at=None)
        found = live.first()
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

    @cached_property
    def quoted(self) -> list[tuple[list[str], str]]:
        """The case references it quotes, per source in the order they count: the
        channel's case_ref, then the subject, then the text (at most five each); found
        once, asked twice (what to read, then which case)."""
        sources = [
            (self.case_ref, AttachReason.CASE_REF),
            (self.subject, AttachReason.REF_SUBJECT),
            (self.full_body or self.body, AttachReason.REF_TEXT),
        ]
        found = []
        for text, reason in sources:
            references = {m.upper() for m in CASE_REFERENCE.findall(text[:20_000])}
            if references:
                found.append((sorted(references)[:5], reason))
        return found


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


def reply_ids(message: Message) -> list[str]:
    """The external ids a message answers, with and without angle brackets."""
    return [*message.replies_to, *(f"<{i}>" for i in message.replies_to)]


@dataclass
class Known:
    """What the database knows about a list of messages, read with one statement per kind of
    fact whatever the number of messages: the senders' customers, the customers that quoted
    customer or contract numbers name, the cases that quoted references name, the cases of
    answered messages, and the open cases of every customer found."""

    senders: dict[SenderAddress, list[Customer]]
    by_reference: dict[str, Customer]
    cases: dict[str, Case]
    replies: dict[str, tuple[datetime, Case]]
    open_cases: dict[int, list[Case]]


@dataclass(frozen=True)
class Parsed:
    """A message to store, what its payload says and its sender's address."""

    message: InboundMessage
    data: Message
    address: SenderAddress | None


def messages_parse(messages: list[InboundMessage]) -> list[Parsed]:
    parsed = []
    for message in messages:
        data = message_from_payload(message.channel, message.payload)
        address = sender_address(channel=data.channel, sender=data.sender, network=data.network)
        parsed.append(Parsed(message, data, address))
    return parsed


def known_queries(items: list[Parsed]) -> tuple[Query, Query, Query]:
    """What `known_read` asks first, independent of each other and of anything stored:
    the senders' customers, the cases that quoted references name, and the open cases of
    the senders' customers."""
    addresses = list({item.address for item in items if item.address is not None})
    quoted = {ref for item in items for refs, _reason in item.data.quoted for ref in refs}
    return senders_query(addresses), references_query(quoted), senders_cases_query(addresses)


def known_read(items: list[Parsed], first: list | None = None) -> Known:
    """`first`: what `known_queries` made, when the caller asked them with its own."""
    senders, cases, sender_cases = (
        first if first is not None else rows_together(*known_queries(items))
    )
    messages = [item.data for item in items]
    by_reference = customers_by_references(references=[m.customer_ref for m in messages])
    answered = {i for m in messages for i in reply_ids(m)}
    replies: dict[str, tuple[datetime, Case]] = {}
    if answered:
        originals = InboundMessage.objects.filter(external_id__in=answered, case__isnull=False)
        for original in originals.select_related("case__customer").order_by("received_at"):
            replies[original.external_id] = (original.received_at, original.case)
    by_sender = {c.pk for found in senders.values() for c in found}
    open_cases: dict[int, list[Case]] = {pk: [] for pk in by_sender}
    for case in sender_cases:  # most recent first
        open_cases[case.customer_id].append(case)
    open_cases.update(open_cases_read({c.pk for c in by_reference.values()} - by_sender))
    return Known(senders, by_reference, cases, replies, open_cases)


def references_query(references: set[str]) -> Query[dict[str, Case]]:
    """The cases that quoted references name, each with its customer, by reference."""
    if not references:
        return Query("", [], cases_by_reference_read)
    # Plain SQL (a sixth of intake's messages quote one; the ORM's statement with its join
    # cost more CPU to compose than the rest of their look-ups together).
    sql = f"""SELECT {columns(Case, "c")}, {columns(Customer, "u")}
            FROM {Case._meta.db_table} c JOIN {Customer._meta.db_table} u ON u.id = c.customer_id
            WHERE c.reference IN ({placeholders(references)})"""
    return Query(sql, sorted(references), cases_by_reference_read)


def cases_by_reference_read(rows: list[tuple]) -> dict[str, Case]:
    found = {}
    for case, rest in rows_read(Case, rows):
        [(case.customer, _none)] = rows_read(Customer, [rest])
        found[case.reference] = case
    return found


def open_cases_read(customer_ids: set[int]) -> dict[int, list[Case]]:
    """Each customer's open cases active within the threading window, most recent first."""
    found: dict[int, list[Case]] = {pk: [] for pk in customer_ids}
    if customer_ids:
        ids = sorted(customer_ids)
        for case in open_cases_query(placeholders(ids), ids).run():
            found[case.customer_id].append(case)
    return found


def senders_cases_query(addresses: list[SenderAddress]) -> Query[list[Case]]:
    """The open cases of the customers these addresses belong to (`open_cases_query`)."""
    if not addresses:
        return Query("", [], lambda _rows: [])
    condition, params = senders_condition(addresses, "p")
    contacts = ContactPoint._meta.db_table
    return open_cases_query(f"SELECT p.customer_id FROM {contacts} p WHERE {condition}", params)


def open_cases_query(customers: str, params: list) -> Query[list[Case]]:
    """Open cases active within the threading window, most recent first, of the customers
    `customers` names (SQL: placeholders or a subquery, with its `params`)."""
    since = timezone.now() - timedelta(days=settings.CPM_INTAKE_THREAD_DAYS)
    states = sorted(ACTIVE_STATES)
    # Plain SQL (asked by every intake request; see customers.selectors.senders_query).
    sql = f"""SELECT {columns(Case, "c")} FROM {Case._meta.db_table} c
            WHERE c.customer_id IN ({customers})
              AND c.state IN ({placeholders(states)}) AND c.updated_at >= %s
            ORDER BY c.updated_at DESC, c.id DESC"""
    return Query(sql, [*params, *states, since], open_cases_rows)


def open_cases_rows(rows: list[tuple]) -> list[Case]:
    types = RULES.get().types
    cases = []
    for case, _rest in rows_read(Case, rows):
        if case.case_type_id is not None:
            case.case_type = types[case.case_type_id]
        cases.append(case)
    return cases


def case_by_reference(message: Message, known: Known) -> tuple[Case | None, str]:
    """The case a quoted reference names: the channel's case_ref, then subject, then text."""
    for references, reason in message.quoted:
        cases = [known.cases[ref] for ref in references if ref in known.cases]
        if cases:
            return min(cases, key=lambda case: case.pk), reason
    return None, ""


def case_by_reply(message: Message, known: Known) -> tuple[Case | None, str]:
    """The case of the message this one answers (In-Reply-To / References), the latest."""
    originals = [known.replies[i] for i in reply_ids(message) if i in known.replies]
    if not originals:
        return None, ""
    return max(originals, key=lambda found: found[0])[1], AttachReason.REPLY


@dataclass(frozen=True)
class Rules:
    """The intake rules in order, the default case type and every case type."""

    rules: list[IntakeRule]
    default: CaseType | None
    types: dict[int, CaseType]  # every case type, by id

    @classmethod
    def read(cls) -> Rules:
        types = {t.pk: t for t in CaseType.objects.select_related("default_team")}
        rules = list(IntakeRule.objects.order_by("position", "id"))
        for rule in rules:
            rule.case_type = types[rule.case_type_id]
        default = next(
            (t for t in types.values() if t.name_en.lower() == DEFAULT_CASE_TYPE.lower()), None
        )
        return cls(rules, default, types)

    def case_type(self, message: Message) -> tuple[CaseType | None, bool]:
        """The case type the first matching rule names (and True), else the default type."""
        text = message.text.lower()
        for rule in self.rules:
            if rule.channel and rule.channel != message.channel:
                continue
            words = rule.keyword_list()
            if not words or any(word in text for word in words):
                return rule.case_type, True
        return self.default, False


# Read once per process, dropped when a rule or a case type changes (cases.memo).
RULES = Memo("intake-rules", Rules.read)


def case_open_choose(cases: list[Case], case_type: CaseType | None, specific: bool) -> Case | None:
    """The customer's most recently active open case (any channel); when the rules chose a
    specific type, only a case of that type."""
    if specific and case_type is not None:
        return next((case for case in cases if case.case_type_id == case_type.pk), None)
    return cases[0] if cases else None


def type_names(case_type: CaseType | None) -> dict[str, str]:
    if case_type is None:
        return {}
    return {"type_de": case_type.name_de, "type_en": case_type.name_en}


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


# --- receiving and processing ------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    message: InboundMessage
    duplicate: bool


def inbound_receive(*, channel: str, payload: dict, key: ChannelKey | None = None) -> Received:
    """Store the message once and process it; a redelivery returns the first delivery's row."""
    return deliveries_receive([Delivery(channel, payload, key)])[0]


def inbound_receive_many(
    *, channel: str, payloads: list[dict], key: ChannelKey | None = None
) -> list[Received]:
    """Store and process messages of one channel, answered in order."""
    return deliveries_receive([Delivery(channel, payload, key) for payload in payloads])


@dataclass(frozen=True)
class Delivery:
    """A message as a channel delivered it: checked, not yet stored."""

    channel: str
    payload: dict
    key: ChannelKey | None = None

    @property
    def external_id(self) -> str:
        return str(self.payload["external_id"])


def deliveries_receive(deliveries: list[Delivery]) -> list[Received]:
    """Store and process messages (of any channels), answered in order.

    First all together, in one transaction, with one statement per kind of fact and of row
    (`receive_together`). When anything there fails (a concurrent delivery of the same
    message id meets the unique constraint, or processing one message raises), all of it is
    rolled back and each message goes the careful way (`receive_one`): processed in a
    savepoint, stored with the outcome, a failure kept as a failed message in the exception
    queue.

    Both take their locks in one order: the cases they touch (ascending ids), then the
    messages' unique keys (in sorted order; new customers and cases draw their numbers
    from sequences that lock nothing on PostgreSQL), so concurrent deliveries wait for
    each other but never deadlock (a message stored before its processing held its key
    while it waited for a case a group held, which waited for that key).
    """
    try:
        with transaction.atomic():
            return receive_together(deliveries)
    except Exception as error:  # anything: the careful way decides per message
        logger.warning(
            "intake: %s message(s) taken one by one after %s", len(deliveries), type(error).__name__
        )
    return [receive_one(d.channel, d.payload, d.key) for d in deliveries]


# How long a leader waits for requests already on their way (see cases.coalesce).
INTAKE_LINGER = 0.003
_coalescer = Coalescer(
    lambda _group, deliveries: deliveries_receive(deliveries), linger=INTAKE_LINGER
)
_expecting = threading.local()  # this thread's request is on its way to the coalescer


SINGLE_PATH = re.compile(r"^/api/v1/inbound/[a-z]+/?$")


def inbound_expect(*, environ: dict | None = None, **_signal: object) -> None:
    """`request_started`: a request for one inbound message is on its way to the
    coalescer; a leader may wait a moment for it."""
    if environ is None or environ.get("REQUEST_METHOD") != "POST":
        return
    if SINGLE_PATH.match(environ.get("PATH_INFO", "")) and not getattr(_expecting, "on", False):
        _expecting.on = True
        _coalescer.expect()


def inbound_expect_end(**_signal: object) -> None:
    """`request_finished`: a request that was expected but never handed a message in (its
    body was invalid, or it failed) is not waited for any longer."""
    if getattr(_expecting, "on", False):
        _expecting.on = False
        _coalescer.unexpect()


def inbound_receive_coalesced(
    *, channel: str, payload: dict, key: ChannelKey | None = None
) -> Received:
    """`inbound_receive`, in one transaction with the messages that other threads of this
    process hand in at the same moment (`cases.coalesce`)."""
    expected = getattr(_expecting, "on", False)
    _expecting.on = False
    return _coalescer.submit("intake", Delivery(channel, payload, key), expected=expected)


def receive_together(deliveries: list[Delivery]) -> list[Received]:
    """What is stored already and what the database knows of the senders are asked in one
    round trip (`rows_together`); the messages not stored yet are then processed."""
    fresh: dict[tuple[str, str], InboundMessage] = {}
    for delivery in deliveries:
        name = (delivery.channel, delivery.external_id)
        if name not in fresh:
            fresh[name] = InboundMessage(
                channel=delivery.channel,
                external_id=delivery.external_id,
                payload=delivery.payload,
                key=delivery.key,
            )
    parsed = messages_parse(list(fresh.values()))
    existing, senders, cases, sender_cases, (message_keys, interaction_keys) = rows_together(
        stored_query(set(fresh)),
        *known_queries(parsed),
        keys_query((InboundMessage, len(fresh)), (Interaction, len(fresh))),
    )
    rows = {name: message for name, message in fresh.items() if name not in existing}
    if rows:
        stored = [rows[name] for name in sorted(rows)]  # the lock order
        keys_give(stored, message_keys)
        items = [item for item in parsed if message_name(item.message) in rows]
        with rows_pipeline():  # the writes go out with the reads they wait for, and at the end
            first = [senders, cases, sender_cases]
            messages_attach(items, first, interaction_keys=interaction_keys)
            rows_insert(InboundMessage, stored)
    answers, seen = [], set()
    for name in ((d.channel, d.external_id) for d in deliveries):
        if name in existing:
            answers.append(Received(existing[name], duplicate=True))
        else:  # the same id twice in one batch: the second is a duplicate of the first
            answers.append(Received(rows[name], duplicate=name in seen))
            seen.add(name)
    return answers


def message_name(message: InboundMessage) -> tuple[str, str]:
    return (message.channel, message.external_id)


def stored_query(names: set[tuple[str, str]]) -> Query[dict[tuple[str, str], InboundMessage]]:
    """The stored messages of these (channel, external id) pairs: one statement, and one
    more only when some are stored (redeliveries)."""
    table = InboundMessage._meta.db_table
    sql = (
        f"SELECT id FROM {table} WHERE (channel, external_id) IN "
        f"(VALUES {', '.join(['(%s, %s)'] * len(names))})"
    )
    return Query(sql, [value for name in sorted(names) for value in name], stored_read)


def stored_read(rows: list[tuple]) -> dict[tuple[str, str], InboundMessage]:
    ids = [row[0] for row in rows]
    if not ids:
        return {}
    stored = InboundMessage.objects.filter(pk__in=ids).select_related("case")
    return {(message.channel, message.external_id): message for message in stored}


def receive_one(channel: str, payload: dict, key: ChannelKey | None) -> Received:
    """Process one message in a savepoint and store it with the outcome, processed or
    failed (in the exception queue), in one transaction; a redelivery finds the first row
    and rolls back what its processing wrote."""
    external_id = str(payload["external_id"])
    message = InboundMessage(channel=channel, external_id=external_id, payload=payload, key=key)
    try:
        with transaction.atomic():
            message_process(message)
            message.save(force_insert=True)
    except IntegrityError:
        existing = InboundMessage.objects.select_related("case").get(
            channel=channel, external_id=external_id
        )
        return Received(existing, duplicate=True)
    return Received(message, duplicate=False)


def inbound_process(*, message: InboundMessage) -> InboundMessage:
    """Process a stored message again (it failed before): processed, or failed again."""
    message_process(message)
    message.save(update_fields=[*PROCESSED_FIELDS, "exception"])
    return message


def message_process(message: InboundMessage) -> None:
    """Find the customer and case, record the interaction, set the processed fields (the
    caller saves the message). A failure rolls back what processing wrote, marks the message
    failed and puts it in the exception queue: the raw message is never lost."""
    try:
        with transaction.atomic():
            messages_attach(messages_parse([message]))
    except Exception as error:  # anything at all: the message must not be lost
        message.status = InboundStatus.FAILED
        message.error = f"{type(error).__name__}: {error}"[:2000]
        message.exception = exception_raise(
            source=INTAKE_SOURCE,
            reason=_("Inbound %(channel)s message %(id)s could not be processed: %(error)s")
            % {"channel": message.channel, "id": message.external_id[:80], "error": message.error},
        )


@dataclass
class Attached:
    """Where intake puts one message: its customer and case, and why."""

    message: InboundMessage
    data: Message
    customer: Customer
    case: Case
    reason: str
    params: dict
    needs_confirmation: bool = False
    created: bool = False
    prospect: Prospect | None = None  # an unknown or ambiguous sender, to identify


def messages_attach(
    items: list[Parsed], first: list | None = None, *, interaction_keys: Sequence[int] = ()
) -> list[Attached]:
    """Find each message's customer and case and record its interaction; the rows get the
    processed fields (the caller saves them).

    The messages count as received one after the other: a later message of the same
    sender finds the case an earlier one opened or the prospect it made. What the database
    knows is read first in a few statements; new cases, their events, acknowledgements and
    the interactions are then written with one statement each.
    """
    known = known_read(items, first)
    answered: dict[str, Case] = {}  # this batch's own messages, by external id
    attached = []
    for message, data, address in ((i.message, i.data, i.address) for i in items):
        sender = Sender(
            address=address,
            by_contact=known.senders.get(address, []) if address else [],
            by_reference=known.by_reference.get(reference_clean(data.customer_ref)),
        )
        case, reason = case_by_reference(data, known)
        if case is None:
            case, reason = case_by_reply(data, known)
        if case is None:
            found = [answered[i] for i in reply_ids(data) if i in answered]
            case, reason = (found[-1], AttachReason.REPLY) if found else (None, "")
        case = merged_target(case)
        if case is not None:
            item = Attached(message, data, case.customer, case, reason, {})
            item.needs_confirmation = not sender.is_contact_of(case.customer)
            open_case_touch(known, case)
        else:
            item = attached_by_customer(message, data, sender, known, RULES.get())
        answered[message.external_id] = item.case
        attached.append(item)
    attached_write(attached, interaction_keys)
    return attached


def attached_by_customer(
    message: InboundMessage, data: Message, sender: Sender, known: Known, rules: Rules
) -> Attached:
    """No reference, no answered message: the customer's open case, else a new one."""
    customer, prospect = sender.customer, None
    if customer is None:
        prospect = Prospect.of(data, sender)
        customer = prospect.customer
        if prospect.address is not None:
            prospect_known(known, prospect.address, customer)
    case_type, specific = rules.case_type(data)
    cases = known.open_cases.setdefault(customer_key(customer), [])
    case = case_open_choose(cases, case_type, specific) if prospect is None else None
    now = timezone.now()
    if case is not None:
        params = {**type_names(case.case_type), "days": (now - case.updated_at).days}
        cases.remove(case)
        item = Attached(message, data, customer, case, AttachReason.OPEN_CASE, params)
    else:
        case = Case(
            customer=customer,
            subject=case_subject(data),
            case_type=case_type,
            team=case_type.default_team if case_type else None,
            created_at=now,
        )
        if case_type is not None:
            case.priority = case_type.default_priority
        params = type_names(case_type)
        item = Attached(message, data, customer, case, AttachReason.NEW_CASE, params, created=True)
    case.updated_at = now
    cases.insert(0, case)  # the most recently active case now
    item.prospect = prospect
    return item


def customer_key(customer: Customer) -> int:
    """A customer's key in `Known.open_cases`: its id, or (a prospect not saved yet) a
    negative number no id can be."""
    return customer.pk if customer.pk is not None else -id(customer)


def open_case_touch(known: Known, case: Case) -> None:
    """A message put on an open case by reference makes it the customer's most recently
    active one, for the messages after it."""
    cases = known.open_cases.get(customer_key(case.customer))
    if cases is None or case.state not in ACTIVE_STATES:
        return
    cases[:] = [case, *(other for other in cases if other.pk != case.pk)]


def prospect_known(known: Known, address: SenderAddress, prospect: Customer) -> None:
    """A prospect made for an unknown address: later messages from it find the prospect."""
    for other in list(known.senders):
        if other.normalised == address.normalised and address.kind in other.kinds:
            known.senders[other] = [*known.senders[other], prospect]
    known.senders.setdefault(address, [prospect])


def attached_write(attached: list[Attached], interaction_keys: Sequence[int] = ()) -> None:
    """Write what `messages_attach` decided: new cases (with their events and
    acknowledgements), interactions, attachments, activity times, items to identify.
    `interaction_keys`: keys drawn for the interactions (`cpm.rows.keys_query`)."""
    now = timezone.now()
    prospects_create([(i.prospect.customer, i.prospect.address) for i in attached if i.prospect])
    new = [item for item in attached if item.created]
    if new:
        # An auto-reply is never answered by another.
        answered = [(i.case, i.message.channel) for i in new if not i.data.automatic]
        year, draws = cases_draw(len(new))
        customer_ids = [case.customer.pk for case, _channel in answered]  # prospects: new
        *drawn, addresses, sent, keys = rows_together(
            *draws, *received_queries(customer_ids, now=now)
        )
        cases_create_many([item.case for item in new], now=now, drawn=(year, drawn))
        notify_received_many(answered, [addresses, sent, keys])
    interactions = [
        Interaction(
            customer=item.customer,
            channel=item.message.channel,
            direction=Direction.INBOUND,
            occurred_at=item.data.sent_at or item.message.received_at,
            subject=item.data.subject,
            body=item.data.body,
            case_reference=item.case.reference,
        )
        for item in attached
    ]
    keys_give(interactions, interaction_keys)
    interactions_record_many(interactions)
    cases_touch({item.case.pk for item in attached if not item.created}, now=now)
    # A prospect's case is always new: no item to identify can be open on it yet.
    exceptions_raise_new(
        [(i.case, IDENTIFY_SOURCE, i.prospect.why()) for i in attached if i.prospect]
    )
    for item, interaction in zip(attached, interactions, strict=True):
        attachments_store(item.data.attachments, interaction)
        message = item.message
        message.customer, message.case, message.interaction = item.customer, item.case, interaction
        message.reason, message.reason_params = item.reason, item.params
        message.needs_confirmation = item.needs_confirmation
        message.status, message.error, message.processed_at = InboundStatus.PROCESSED, "", now


def cases_touch(pks: set[int], *, now) -> None:
    """Mark the existing cases that got a message as active now, locking their rows in
    ascending id order (the lock order, see `deliveries_receive`). A plain `UPDATE … WHERE
    id IN (…)` locks rows in the order its plan meets them: by id through the primary key,
    in physical order in a sequential scan, which PostgreSQL chooses for a small table."""
    if not pks:
        return
    if connection.vendor != "postgresql":  # SQLite: one writer at a time
        Case.objects.filter(pk__in=pks).update(updated_at=now)
        return
    table = Case._meta.db_table
    rows_write(
        f"""UPDATE {table} SET updated_at = %s WHERE id IN (
                SELECT id FROM {table} WHERE id IN ({placeholders(pks)})
                ORDER BY id FOR NO KEY UPDATE)""",
        [now, *sorted(pks)],
    )


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


@dataclass
class Prospect:
    """A prospect for an unknown or ambiguous sender, saved with the others of its group
    (`customers.services.prospects_create`), and why someone must identify it."""

    customer: Customer
    address: SenderAddress | None  # None: the address belongs to several customers
    name: str
    numbers: str = ""  # the customers that share the address

    @classmethod
    def of(cls, data: Message, sender: Sender) -> Prospect:
        name = data.sender.strip()[:200] or _("Unknown sender")
        if sender.by_contact:
            numbers = ", ".join(c.number for c in sender.by_contact)
            return cls(Customer(name=name), None, name, numbers)
        return cls(Customer(name=name), sender.address, name)

    def why(self) -> str:
        if self.numbers:
            why = _("%(sender)s is a contact of several customers (%(numbers)s): which one wrote?")
            return why % {"sender": self.name, "numbers": self.numbers}
        why = _(
            "Unknown sender %(sender)s: a prospect %(number)s was created; link it to a customer."
        )
        return why % {"sender": self.name, "number": self.customer.number}


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
