"""Reads for the customer screens: permission-checked fetches and keyset-paged timelines."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.postgres.search import TrigramSimilarity, TrigramWordSimilarity
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import F, Q
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from cpm.rows import Query, columns, placeholders, rows_read
from customers import identity
from customers.connectors import BackOffice, BackOfficeUnavailable, billing_connector
from customers.models import (
    PHONE_KINDS,
    Address,
    ChangeEntity,
    ContactKind,
    ContactPoint,
    Customer,
    CustomerChange,
    CustomerEvent,
    CustomerStatus,
    Direction,
    Holding,
    HoldingStatus,
    Interaction,
    PaymentMethod,
    Segment,
)

TIMELINE_PAGE_SIZE = 25
HOLDINGS_SHOWN = 50
VIP_MONTHLY_REVENUE = Decimal("100.00")  # active holdings' fees per month that make a VIP


class TimelineKind:
    INTERACTIONS = "interactions"
    CHANGES = "changes"
    EVENTS = "events"
    CHOICES = [
        (INTERACTIONS, _("Contacts only")),
        (CHANGES, _("Data changes only")),
        (EVENTS, _("Offers only")),
    ]


# Where entries share a timestamp (newest first): offer answers, contacts, data changes.
SOURCE_RANK = {"e": 2, "i": 1, "c": 0}
Entry = Interaction | CustomerChange | CustomerEvent


@dataclass(frozen=True)
class TimelinePage:
    entries: list[Entry]
    next_cursor: str  # empty on the last page


@dataclass(frozen=True)
class Flag:
    code: str
    label: str
    tone: str  # "vip", "warn", "danger", "info": the CSS says what each colour means


# Flags that other apps derive from their own data (cases: "complaint open"); each provider
# is called once per cockpit with the customer and costs at most one query.
FlagProvider = Callable[[Customer], list[Flag]]
FLAG_PROVIDERS: list[FlagProvider] = []


def flag_provider_register(provider: FlagProvider) -> None:
    """Called from an app's `ready()`; customers never imports the apps that derive flags."""
    if provider not in FLAG_PROVIDERS:
        FLAG_PROVIDERS.append(provider)


@dataclass(frozen=True)
class Cockpit:
    customer: Customer
    contact_points: list[ContactPoint]
    address: Address | None
    holdings: list[Holding]
    flags: list[Flag]


def access_customer_by_id(*, user: AbstractBaseUser | AnonymousUser, pk: int) -> Customer:
    """The one access rule for a customer: a 404 when missing, a 403 without the permission."""
    if not user.has_perm("customers.view_customer"):
        raise PermissionDenied
    try:
        return Customer.objects.get(pk=pk)
    except Customer.DoesNotExist:
        raise Http404 from None


def entry_source(entry: Entry) -> str:
    if isinstance(entry, CustomerChange):
        return "c"
    return "e" if isinstance(entry, CustomerEvent) else "i"


def entry_key(entry: Entry) -> tuple[datetime, int, int]:
    """The timeline's sort key over all sources: time, then source, then id."""
    source = entry_source(entry)
    when = entry.occurred_at if source == "i" else entry.at
    return when, SOURCE_RANK[source], entry.pk


def timeline_cursor(entry: Entry) -> str:
    when, _rank, pk = entry_key(entry)
    return f"{when.isoformat()}|{pk}|{entry_source(entry)}"


def parse_timeline_cursor(cursor: str) -> tuple[datetime, int, str] | None:
    """The position after which the next page starts; None for the first page or a bad cursor."""
    when, _, rest = cursor.partition("|")
    pk, _, source = rest.partition("|")
    try:
        return datetime.fromisoformat(when), int(pk), source if source in SOURCE_RANK else "i"
    except ValueError:
        return None


def after_position(rank: int, position: tuple[datetime, int, str] | None, at: str = "at") -> Q:
    """Rows of the source with this rank that sort after the cursor (newest first)."""
    if position is None:
        return Q()
    when, pk, source = position
    cursor_rank = SOURCE_RANK[source]
    if rank < cursor_rank:
        return Q(**{f"{at}__lte": when})
    if rank > cursor_rank:
        return Q(**{f"{at}__lt": when})
    return Q(**{f"{at}__lt": when}) | Q(**{at: when, "id__lt": pk})


def timeline_page(
    *,
    customer_id: int,
    cursor: str = "",
    channel: str = "",
    kind: str = "",
    size: int = TIMELINE_PAGE_SIZE,
) -> TimelinePage:
    """One page of the customer's timeline, newest first: contacts of every channel,
    master-data changes and other events (offer answers) on one list, in three queries
    whatever the history's length.

    Each source is read with the same keyset condition and its own index, then the short
    lists are merged; a channel filter shows contacts and the events on that channel.
    """
    position = parse_timeline_cursor(cursor) if cursor else None
    rows: list[Entry] = []
    if kind in ("", TimelineKind.INTERACTIONS):
        interactions = (
            Interaction.objects.for_customer(customer_id).select_related("agent").newest_first()
        )
        if channel:
            interactions = interactions.filter(channel=channel)
        interactions = interactions.filter(
            after_position(SOURCE_RANK["i"], position, "occurred_at")
        )
        rows.extend(interactions[: size + 1])
    if kind in ("", TimelineKind.CHANGES) and not channel:
        changes = (
            CustomerChange.objects.filter(customer_id=customer_id)
            .filter(after_position(SOURCE_RANK["c"], position))
            .select_related("by")
            .order_by("-at", "-id")
        )
        rows.extend(changes[: size + 1])
    if kind in ("", TimelineKind.EVENTS):
        events = CustomerEvent.objects.filter(customer_id=customer_id)
        if channel:
            events = events.filter(channel=channel)
        events = (
            events.filter(after_position(SOURCE_RANK["e"], position))
            .select_related("by")
            .order_by("-at", "-id")
        )
        rows.extend(events[: size + 1])
    rows.sort(key=entry_key, reverse=True)
    has_more = len(rows) > size
    rows = rows[:size]
    return TimelinePage(entries=rows, next_cursor=timeline_cursor(rows[-1]) if has_more else "")


def customer_flags(customer: Customer, holdings: list[Holding]) -> list[Flag]:
    """Flags derived from the data, never typed by hand."""
    flags = []
    active = [h for h in holdings if h.status == HoldingStatus.ACTIVE]
    revenue = sum((h.monthly_fee for h in active), Decimal("0"))
    if customer.segment == Segment.PREMIUM or revenue >= VIP_MONTHLY_REVENUE:
        flags.append(Flag("vip", str(_("VIP")), "vip"))
    if customer.status == CustomerStatus.BLOCKED:
        flags.append(Flag("blocked", str(_("Blocked")), "danger"))
    if not customer.consent_service:
        flags.append(Flag("no-consent", str(_("No consent to service contact")), "warn"))
    if any(h.payment_method == PaymentMethod.BANK_TRANSFER for h in active):
        flags.append(Flag("transfer", str(_("Pays by bank transfer")), "info"))
    for provider in FLAG_PROVIDERS:
        flags.extend(provider(customer))
    return flags


def customer_cockpit(*, customer: Customer) -> Cockpit:
    """Everything the cockpit's master-data panels show, in three queries."""
    contact_points = list(ContactPoint.objects.active().filter(customer=customer))
    address = Address.objects.current().filter(customer=customer).first()
    holdings = list(
        Holding.objects.filter(customer=customer).order_by(
            F("end").desc(nulls_first=True), "start", "id"
        )[:HOLDINGS_SHOWN]
    )
    return Cockpit(
        customer=customer,
        contact_points=contact_points,
        address=address,
        holdings=holdings,
        flags=customer_flags(customer, holdings),
    )


def customer_field_changes(*, customer: Customer, fields: list[str]) -> list[CustomerChange]:
    """The latest change of each of these fields of the customer itself (who, when, new value),
    in the given order: what a conflicting edit shows. One query."""
    latest: dict[str, CustomerChange] = {}
    changes = (
        CustomerChange.objects.filter(
            customer=customer, entity=ChangeEntity.CUSTOMER, field__in=fields
        )
        .select_related("by")
        .order_by("-at", "-id")
    )
    for change in changes[: len(fields) * 5]:
        latest.setdefault(change.field, change)
    return [latest[name] for name in fields if name in latest]


def contact_point_get(*, customer: Customer, pk: int) -> ContactPoint:
    try:
        return ContactPoint.objects.active().get(customer=customer, pk=pk)
    except ContactPoint.DoesNotExist:
        raise Http404 from None


def holding_get(*, customer: Customer, pk: int) -> Holding:
    try:
        return Holding.objects.get(customer=customer, pk=pk)
    except Holding.DoesNotExist:
        raise Http404 from None


def customer_identify(*, query: str) -> Customer | None:
    """The one customer an exact identifier names: customer number, e-mail address, phone
    number in any common format, contract number or IBAN. None when it names nobody.

    Every look-up is an equality on an indexed, normalised column.
    """
    query = query.replace("\x00", "").strip()
    if not query:
        return None
    upper = query.upper()
    # A phone number is tried first when the query looks like one (the common case at the
    # desk; one query less), and then still as a customer number made of digits only.
    phone_like = identity.looks_like_phone(query)
    found = None if phone_like else Customer.objects.filter(number=upper).first()
    if found is None and "@" in query:
        try:
            email = identity.email_normalise(query)
        except ValidationError:
            email = ""
        found = customer_by_contact(kinds=[ContactKind.EMAIL], normalised=email)
    if found is None and phone_like:
        try:
            phone = identity.phone_normalise(query)
        except ValidationError:
            phone = ""
        found = customer_by_contact(kinds=PHONE_KINDS, normalised=phone)
    if found is None and phone_like:
        found = Customer.objects.filter(number=upper).first()
    if found is None:
        holding = Holding.objects.filter(contract_number=upper).select_related("customer").first()
        found = holding.customer if holding else None
    iban = identity.iban_or_none(query) if found is None else None
    if iban:
        holding = Holding.objects.filter(iban=iban).select_related("customer").first()
        found = holding.customer if holding else None
    if found is not None and found.merged_into_id:
        # The number of a merged record still leads to the person: the customer kept.
        found = Customer.objects.filter(pk=found.merged_into_id).first() or found
    return found


def customer_by_contact(*, kinds: list[str], normalised: str) -> Customer | None:
    if not normalised:
        return None
    contact = (
        ContactPoint.objects.active()
        .filter(kind__in=kinds, normalised=normalised)
        .select_related("customer")
        .first()
    )
    return contact.customer if contact else None


@dataclass(frozen=True)
class Reachable:
    """A customer's active addresses of some kinds, primary first, as (kind, normalised),
    and the channel of their last inbound contact ("" if none)."""

    addresses: list[tuple[str, str]]
    last_inbound_channel: str


def customer_reachable(*, customer_id: int, kinds: list[str]) -> Reachable:
    """Where the customer can be told something, in one statement.

    Every customer-visible case transition asks this (`cases.outbox.notice_route`); composed
    with the ORM (a subquery annotation) it cost more CPU than the database takes to answer
    it, hence plain SQL. The last inbound channel is only read when there is an address.
    """
    contacts, interactions = ContactPoint._meta.db_table, Interaction._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT c.kind, c.normalised,
                   (SELECT i.channel FROM {interactions} i
                    WHERE i.customer_id = %s AND i.direction = %s
                    ORDER BY i.occurred_at DESC, i.id DESC LIMIT 1)
                FROM {contacts} c
                WHERE c.customer_id = %s AND c.active AND c.kind IN ({placeholders(kinds)})
                ORDER BY c."primary" DESC, c.id""",
            [customer_id, Direction.INBOUND, customer_id, *kinds],
        )
        rows = cursor.fetchall()
    return Reachable(
        addresses=[(kind, normalised) for kind, normalised, _last in rows],
        last_inbound_channel=(rows[0][2] or "") if rows else "",
    )


def addresses_query(*, customer_ids: list[int], kinds: list[str]) -> Query[dict[int, list]]:
    """`Reachable.addresses` of many customers in one statement, to ask with others in one
    round trip: each customer's active addresses of these kinds, primary first, as (kind,
    normalised)."""
    ids = sorted(set(customer_ids))

    def read(rows: list[tuple]) -> dict[int, list]:
        found: dict[int, list] = {pk: [] for pk in customer_ids}
        for customer_id, kind, normalised in rows:
            found[customer_id].append((kind, normalised))
        return found

    if not ids or not kinds:
        return Query("", [], read)
    # Plain SQL, like `senders_query`: asked for every message that opens a case.
    sql = f"""SELECT customer_id, kind, normalised FROM {ContactPoint._meta.db_table}
            WHERE active AND customer_id IN ({placeholders(ids)})
              AND kind IN ({placeholders(kinds)})
            ORDER BY customer_id, "primary" DESC, id"""
    return Query(sql, [*ids, *kinds], read)


SHORT_NAME_QUERY = 6  # characters; shorter name queries also match as a substring
# pg_trgm's default 0.6 misses a typo in each part of a short name ("Ana Müler": 0.57).
WORD_SIMILARITY = 0.5


def customer_search(*, query: str, limit: int = 20) -> list[Customer]:
    """Customers by name: typo-tolerant on PostgreSQL (trigram word similarity, GIN index),
    a contains-match on SQLite."""
    query = query.replace("\x00", "").strip()
    if not query:
        return []
    if connection.vendor == "postgresql":
        # Word similarity (`<%`: the query against the best-matching stretch of the name)
        # finds a misspelt name or part of one, served by the GIN trigram index. The
        # whole-name `%` (threshold 0.3) is left out: with common first names it matches
        # every "Maria …" for "Maria Schmitd" (124 ms p50 at 1,000,000 customers against
        # 33 ms without it, the same hits; docs/benchmarks.md). Short queries also match as
        # a substring (`~*`, which the trigram index serves where UPPER(name) LIKE cannot).
        matches = Q(name__trigram_word_similar=query)
        if len(query) < SHORT_NAME_QUERY:
            matches |= Q(name__iregex=re.escape(query))
        found = (
            Customer.objects.filter(matches, merged_into__isnull=True)
            .annotate(score=TrigramSimilarity("name", query) + TrigramWordSimilarity(query, "name"))
            .order_by("-score", "name", "id")[:limit]
        )
        # The planner prices trigram matching like a cheap comparison and picks a
        # sequential scan, which computes the similarity of every name (2.5 s at 100,000
        # customers, see docs/benchmarks.md) where the index answers in milliseconds.
        # One round trip each way: the planner settings before, their defaults after.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SET LOCAL enable_seqscan = off; "
                f"SET LOCAL pg_trgm.word_similarity_threshold = {WORD_SIMILARITY}"
            )
            customers = list(found)
            cursor.execute("RESET enable_seqscan; RESET pg_trgm.word_similarity_threshold")
        return customers
    return list(
        Customer.objects.filter(name__icontains=query, merged_into__isnull=True).order_by(
            "name", "id"
        )[:limit]
    )


def customer_back_office(*, customer: Customer) -> BackOffice:
    """Billing, orders and contracts from the back office; `unreachable` when it fails.

    The first failure stops the rest: it is the same system, and the panel must answer fast.
    """
    connector = billing_connector()
    try:
        billing = connector.billing(customer_number=customer.number)
        orders = connector.orders(customer_number=customer.number)
        contracts = connector.contracts(customer_number=customer.number)
    except BackOfficeUnavailable:
        return BackOffice(unreachable=True)
    return BackOffice(billing=billing, orders=orders, contracts=contracts)


@dataclass(frozen=True)
class SenderAddress:
    """A message sender's address, normalised the way contact points are, for matching."""

    kind: str  # the kind a new contact point gets
    kinds: tuple[str, ...]  # the kinds it matches
    value: str
    normalised: str
    network: str = ""


SENDER_KINDS: dict[str, tuple[str, ...]] = {
    "email": (ContactKind.EMAIL,),
    "sms": (ContactKind.MOBILE,),
    "phone": (ContactKind.PHONE,),
    "social": (ContactKind.SOCIAL,),
    "chat": (ContactKind.MESSENGER,),
    "webform": (ContactKind.EMAIL, ContactKind.MOBILE),
}


def sender_address(*, channel: str, sender: str, network: str = "") -> SenderAddress | None:
    """The sender normalised for its channel: e-mail lower-cased, numbers in E.164, handles
    qualified by network (`instagram:anna.m`); None when it is not a valid address."""
    sender = sender.replace("\x00", "").strip()
    for kind in SENDER_KINDS.get(channel, ()):
        try:
            if kind == ContactKind.EMAIL:
                return SenderAddress(
                    kind, (ContactKind.EMAIL,), sender, identity.email_normalise(sender)
                )
            if kind in PHONE_KINDS:
                normalised = identity.phone_normalise(sender)
                return SenderAddress(kind, tuple(PHONE_KINDS), sender, normalised)
            net = (network or channel).strip().lower()[:30]
            normalised = identity.handle_normalise(sender, network=net)
            kinds = (ContactKind.SOCIAL, ContactKind.MESSENGER)
            return SenderAddress(kind, kinds, sender, normalised, net)
        except ValidationError:
            continue
    return None


def senders_query(addresses: list[SenderAddress]) -> Query[dict[SenderAddress, list[Customer]]]:
    """Every customer an active contact point with each address belongs to (two or more:
    ambiguous, and the caller must not guess), for many addresses in one statement, to ask
    with others in one round trip."""
    if not addresses:
        return Query("", [], lambda _rows: {})
    # Plain SQL: every intake request asks this, and composing it with the ORM cost more
    # CPU than the database takes to answer it.
    customers, contacts = Customer._meta.db_table, ContactPoint._meta.db_table
    condition, params = senders_condition(addresses, "p")
    sql = f"""SELECT {columns(Customer, "c")}, p.kind, p.normalised
            FROM {customers} c JOIN {contacts} p ON p.customer_id = c.id WHERE {condition}"""
    return Query(sql, params, lambda rows: senders_match(addresses, rows))


def senders_condition(addresses: list[SenderAddress], alias: str) -> tuple[str, list[str]]:
    """SQL saying that the contact point `alias` is active and has one of these addresses,
    and its parameters. `active` is written out, not a parameter: PostgreSQL then keeps one
    plan that uses the partial unique index on active contact points."""
    kinds = sorted({kind for address in addresses for kind in address.kinds})
    values = sorted({address.normalised for address in addresses})
    condition = (
        f"{alias}.active AND {alias}.kind IN ({placeholders(kinds)}) "
        f"AND {alias}.normalised IN ({placeholders(values)})"
    )
    return condition, [*kinds, *values]


def senders_match(
    addresses: list[SenderAddress], rows: list[tuple]
) -> dict[SenderAddress, list[Customer]]:
    found: dict[tuple[str, str], dict[int, Customer]] = {}
    for customer, (kind, normalised) in rows_read(Customer, rows):
        found.setdefault((kind, normalised), {})[customer.pk] = customer
    matches = {}
    for address in addresses:
        customers = {
            pk: customer
            for kind in address.kinds
            for pk, customer in found.get((kind, address.normalised), {}).items()
        }
        matches[address] = [customers[pk] for pk in sorted(customers)]
    return matches


def reference_clean(reference: str) -> str:
    return reference.replace("\x00", "").strip().upper()


def customers_by_references(*, references: list[str]) -> dict[str, Customer]:
    """The customers that customer numbers or contract numbers name, by the cleaned
    reference (upper case); a customer number wins over a contract number."""
    wanted = {reference_clean(reference) for reference in references} - {""}
    if not wanted:
        return {}
    found = {c.number: c for c in Customer.objects.filter(number__in=wanted)}
    rest = wanted - found.keys()
    if rest:
        holdings = Holding.objects.filter(contract_number__in=rest).select_related("customer")
        for holding in holdings.order_by("pk"):
            found.setdefault(holding.contract_number, holding.customer)
    return found
