"""Demo data: realistic German and English customers, contacts and cases, the same every time.

Rows are written with bulk inserts, like factories do, so that 100,000 customers take
minutes; the case states are set as the seed's starting point, and every case carries the
events that would have led to its state.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from faker import Faker
from schwifty import IBAN

from cases.guided import run_start, run_step_submit, version_for_start
from cases.models import (
    BusinessCalendar,
    Case,
    CaseCategory,
    CaseEvent,
    CaseEventKind,
    CaseState,
    CaseType,
    GermanState,
    GuidedRun,
    IntakeRule,
    Priority,
    ReplyTemplate,
    SlaPolicy,
    Team,
    WorkingHours,
)
from cases.services import case_reference
from cases.sla import deadline_after
from cpm.roles import Role, roles_sync
from customers.identity import phone_normalise
from customers.models import (
    Address,
    ChangeEntity,
    Channel,
    ContactKind,
    ContactPoint,
    Customer,
    CustomerChange,
    CustomerKind,
    CustomerStatus,
    Direction,
    Holding,
    HoldingStatus,
    Interaction,
    Language,
    PaymentMethod,
    Segment,
)
from customers.services import customer_number, sequence_numbers
from guidance.models import ProcessDefinition
from guidance.services import process_import

SEED = 20261125
BATCH = 1000
HISTORY_DAYS = 730
DEMO_USERS = [
    ("agent", "Kim", "Berger", Role.AGENT),
    ("agent2", "Lena", "Vogel", Role.AGENT),
    ("supervisor", "Sam", "Richter", Role.SUPERVISOR),
    ("admin", "Alex", "Admin", Role.ADMIN),
]
CHANNEL_WEIGHTS = {
    Channel.PHONE: 40,
    Channel.EMAIL: 30,
    Channel.SMS: 8,
    Channel.CHAT: 10,
    Channel.SOCIAL: 3,
    Channel.WEBFORM: 6,
    Channel.LETTER: 2,
    Channel.VISIT: 1,
}
TOPICS = {
    Language.GERMAN: [
        ("Rechnung falsch", "Meine letzte Rechnung ist zu hoch, bitte prüfen Sie den Betrag."),
        ("Umzug", "Ich ziehe zum Monatsende um. Bitte ändern Sie meine Adresse."),
        ("Kündigung", "Hiermit kündige ich meinen Vertrag zum nächstmöglichen Termin."),
        ("Störung Internet", "Seit gestern funktioniert mein Internet nicht mehr."),
        ("Zahlungsart ändern", "Ich möchte künftig per Lastschrift zahlen."),
        ("Beschwerde Techniker", "Der Techniker ist nicht zum vereinbarten Termin erschienen."),
        ("Tarifwechsel", "Gibt es einen günstigeren Tarif für mich?"),
    ],
    Language.ENGLISH: [
        ("Wrong invoice", "My last invoice is too high, please check the amount."),
        ("Moving house", "I am moving at the end of the month. Please update my address."),
        ("Cancellation", "I would like to cancel my contract at the earliest date."),
        ("Internet outage", "My internet connection has been down since yesterday."),
        ("Change payment method", "I would like to pay by direct debit from now on."),
        ("Complaint about technician", "The technician did not turn up for the appointment."),
        ("Tariff change", "Is there a cheaper tariff for me?"),
    ],
}
STATE_WEIGHTS = {
    CaseState.NEW: 12,
    CaseState.OPEN: 20,
    CaseState.WAITING_CUSTOMER: 8,
    CaseState.WAITING_THIRD_PARTY: 5,
    CaseState.ESCALATED: 4,
    CaseState.RESOLVED: 15,
    CaseState.CLOSED: 32,
    CaseState.CANCELLED: 4,
}
ACTIVE_DEMO_STATES = {
    CaseState.NEW,
    CaseState.OPEN,
    CaseState.WAITING_CUSTOMER,
    CaseState.WAITING_THIRD_PARTY,
    CaseState.ESCALATED,
}
OPENED = [("open", CaseState.NEW, CaseState.OPEN)]
RESOLVED = [*OPENED, ("resolve", CaseState.OPEN, CaseState.RESOLVED)]
# Each state with the transitions that lead to it from "new".
STATE_PATHS: dict[str, list[tuple[str, str, str]]] = {
    CaseState.NEW: [],
    CaseState.OPEN: OPENED,
    CaseState.WAITING_CUSTOMER: [
        *OPENED,
        ("wait_for_customer", CaseState.OPEN, CaseState.WAITING_CUSTOMER),
    ],
    CaseState.WAITING_THIRD_PARTY: [
        *OPENED,
        ("wait_for_third_party", CaseState.OPEN, CaseState.WAITING_THIRD_PARTY),
    ],
    CaseState.ESCALATED: [*OPENED, ("escalate", CaseState.OPEN, CaseState.ESCALATED)],
    CaseState.RESOLVED: RESOLVED,
    CaseState.CLOSED: [*RESOLVED, ("close", CaseState.RESOLVED, CaseState.CLOSED)],
    CaseState.CANCELLED: [*OPENED, ("cancel", CaseState.OPEN, CaseState.CANCELLED)],
}
ESCALATION_REASONS = {
    Language.GERMAN: "Kunde verlangt Kulanz über 100 €.",
    Language.ENGLISH: "Customer asks for a goodwill credit over 100 EUR.",
}
# Teams, and the case type of each demo topic: (English, German, category, team, priority).
DEMO_TEAMS = ["Billing", "Technical support", "Contracts"]
DEMO_CASE_TYPES = [
    ("Billing question", "Rechnungsfrage", CaseCategory.QUESTION, "Billing", Priority.NORMAL),
    ("Change of address", "Adressänderung", CaseCategory.REQUEST, "Contracts", Priority.LOW),
    ("Cancellation", "Kündigung", CaseCategory.CANCELLATION, "Contracts", Priority.HIGH),
    ("Outage", "Störung", CaseCategory.DISRUPTION, "Technical support", Priority.URGENT),
    ("Payment method", "Zahlungsart", CaseCategory.REQUEST, "Billing", Priority.NORMAL),
    ("Complaint", "Beschwerde", CaseCategory.COMPLAINT, "Technical support", Priority.HIGH),
    ("Tariff change", "Tarifwechsel", CaseCategory.REQUEST, "Contracts", Priority.NORMAL),
]


DEMO_TYPE_PROCESSES = {
    "Billing question": "billing-question",
    "Change of address": "change-of-address",
    "Cancellation": "cancellation",
    "Complaint": "complaint",
    "Payment method": "billing-question",
}


PRODUCTS = [
    ("DSL 100", Decimal("29.99")),
    ("DSL 250", Decimal("39.99")),
    ("Glasfaser 1000", Decimal("69.99")),
    ("Mobil M", Decimal("19.99")),
    ("Mobil L", Decimal("34.99")),
    ("TV Basis", Decimal("9.99")),
]
PAYMENT_WEIGHTS = {
    PaymentMethod.DIRECT_DEBIT: 55,
    PaymentMethod.BANK_TRANSFER: 25,  # the next-best-action demo offers them direct debit
    PaymentMethod.INVOICE: 10,
    PaymentMethod.CARD: 10,
}
MOBILE_PREFIXES = ["0151", "0171", "0176"]
DUPLICATE_EVERY = 50  # every 50th customer looks like a duplicate of the one before
UMLAUTS = {"ü": "ue", "ö": "oe", "ä": "ae", "ß": "ss", "é": "e"}


@dataclass
class Batch:
    customers: list[Customer] = field(default_factory=list)
    interactions: list[Interaction] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)
    contact_points: list[ContactPoint] = field(default_factory=list)
    addresses: list[Address] = field(default_factory=list)
    holdings: list[Holding] = field(default_factory=list)
    changes: list[CustomerChange] = field(default_factory=list)


def demo_users_ensure(*, with_password: bool) -> dict[str, User]:
    """The demo users, one per role; the password 'demo' is set only when asked (DEBUG)."""
    roles_sync()
    users = {}
    for username, first, last, role in DEMO_USERS:
        user, created = User.objects.get_or_create(
            username=username, defaults={"first_name": first, "last_name": last}
        )
        if created or with_password:
            if with_password:
                user.set_password("demo")
            else:
                user.set_unusable_password()
        user.is_staff = role is Role.ADMIN
        user.is_superuser = role is Role.ADMIN
        user.save()
        user.groups.add(Group.objects.get(name=role.value))
        users[username] = user
    return users


PROCESS_DIR = Path(__file__).resolve().parent.parent / "guidance" / "processes"


def demo_processes_ensure() -> list[str]:
    """Publish the demo processes that are not there yet; returns the keys imported."""
    imported = []
    for path in sorted(PROCESS_DIR.glob("*.yaml")):
        if not ProcessDefinition.objects.filter(key=path.stem).exists():
            process_import(text=path.read_text(encoding="utf-8"), by=None, publish=True)
            imported.append(path.stem)
    return imported


DEMO_REPLY_TEMPLATES = [
    {
        "name": "Acknowledge and next step",
        "subject_de": "Ihr Anliegen {case_reference}",
        "subject_en": "Your request {case_reference}",
        "body_de": (
            "Guten Tag {customer_name},\n\nvielen Dank für Ihre Nachricht. Wir kümmern uns "
            "darum (Vorgang {case_reference}). Als Nächstes: {next_step}\n\nFreundliche Grüße"
        ),
        "body_en": (
            "Hello {customer_name},\n\nthank you for your message. We are on it (case "
            "{case_reference}). Next: {next_step}\n\nKind regards"
        ),
    },
    {
        "name": "Need more information",
        "subject_de": "Rückfrage zu {case_reference}",
        "subject_en": "A question about {case_reference}",
        "body_de": (
            "Guten Tag {customer_name},\n\nfür Vorgang {case_reference} brauchen wir noch "
            "etwas von Ihnen: {next_step}\nBitte antworten Sie einfach auf diese Nachricht."
            "\n\nFreundliche Grüße"
        ),
        "body_en": (
            "Hello {customer_name},\n\nto go on with case {case_reference} we need something "
            "from you: {next_step}\nPlease simply reply to this message.\n\nKind regards"
        ),
    },
    {
        "name": "Resolved",
        "subject_de": "Erledigt: {case_reference}",
        "subject_en": "Resolved: {case_reference}",
        "body_de": (
            "Guten Tag {customer_name},\n\nIhr Anliegen {case_reference} ist erledigt. "
            "{next_step}\n\nFreundliche Grüße"
        ),
        "body_en": (
            "Hello {customer_name},\n\nyour request {case_reference} is resolved. "
            "{next_step}\n\nKind regards"
        ),
    },
]


def demo_reply_templates_ensure() -> int:
    """The demo reply templates that are missing (by name); returns how many were made."""
    made = 0
    for position, fields in enumerate(DEMO_REPLY_TEMPLATES, start=1):
        template, created = ReplyTemplate.objects.get_or_create(
            name=fields["name"], defaults={**fields, "position": position * 10}
        )
        if created:
            template.full_clean()
            made += 1
    return made


def demo_case_types_ensure(*, agents: list[User]) -> list[CaseType]:
    """The demo teams (every demo agent in each) and one case type per demo topic."""
    teams = {}
    for name in DEMO_TEAMS:
        teams[name], _created = Team.objects.get_or_create(name=name)
        teams[name].members.add(*agents)
    types = []
    for name_en, name_de, category, team, priority in DEMO_CASE_TYPES:
        case_type, _created = CaseType.objects.get_or_create(
            name_en=name_en,
            defaults={
                "name_de": name_de,
                "category": category,
                "default_team": teams[team],
                "default_priority": priority,
            },
        )
        process_key = DEMO_TYPE_PROCESSES.get(name_en)
        if process_key and case_type.process_id is None:
            case_type.process = ProcessDefinition.objects.filter(key=process_key).first()
            case_type.save(update_fields=["process"])
        types.append(case_type)
    demo_sla_policies_ensure(types)
    demo_intake_rules_ensure(teams)
    return types


DEMO_INTAKE_RULES = [
    ("Outage", "störung, ausfall, internet geht nicht, kein internet, outage"),
    ("Cancellation", "kündigung, kündigen, cancel"),
    ("Change of address", "umzug, neue adresse, address"),
    ("Billing question", "rechnung, abbuchung, invoice"),
]


def demo_intake_rules_ensure(teams: dict[str, Team]) -> None:
    """Keyword rules that choose a new inbound message's case type; general inquiries go
    to the billing team's queue, so someone sees them."""
    if not IntakeRule.objects.exists():
        for position, (name_en, keywords) in enumerate(DEMO_INTAKE_RULES, start=1):
            case_type = CaseType.objects.filter(name_en=name_en).first()
            if case_type is not None:
                IntakeRule.objects.create(
                    position=position * 10, case_type=case_type, keywords=keywords
                )
    CaseType.objects.filter(name_en="General inquiry", default_team__isnull=True).update(
        default_team=teams["Billing"]
    )


def demo_sla_policies_ensure(types: list[CaseType]) -> None:
    """A Berlin office calendar (Mon-Fri 8-18) and an SLA policy per case type and priority."""
    calendar, created = BusinessCalendar.objects.get_or_create(
        name="Berlin office", defaults={"german_state": GermanState.BE}
    )
    if created:
        WorkingHours.objects.bulk_create(
            WorkingHours(calendar=calendar, weekday=day, opens=time(8), closes=time(18))
            for day in range(5)
        )
    # Working minutes for first response and resolution, by priority.
    targets = {
        Priority.URGENT: (30, 8 * 60),
        Priority.HIGH: (2 * 60, 2 * 10 * 60),
        Priority.NORMAL: (8 * 60, 5 * 10 * 60),
        Priority.LOW: (2 * 10 * 60, 10 * 10 * 60),
    }
    hours = calendar.business_hours()
    for case_type in types:
        case_type._demo_policies = {}  # type: ignore[attr-defined]
        for priority, (response, resolution) in targets.items():
            policy, _created = SlaPolicy.objects.get_or_create(
                case_type=case_type,
                priority=priority,
                defaults={
                    "calendar": calendar,
                    "first_response_minutes": response,
                    "resolution_minutes": resolution,
                },
            )
            case_type._demo_policies[priority] = (policy, hours)  # type: ignore[attr-defined]


def demo_clock(case: Case, now: datetime) -> None:
    """Give an active demo case the SLA clock it would have now: due, paused, warned, breached."""
    policy, hours = case.case_type._demo_policies[case.priority]  # type: ignore[union-attr]
    start = case.created_at
    case.sla_policy = policy
    case.response_due = deadline_after(hours, start, policy.first_response_minutes)
    case.resolution_due = deadline_after(hours, start, policy.resolution_minutes)
    case.sla_warn_at = deadline_after(hours, start, policy.resolution_minutes * 0.8)
    events = case._demo_events  # type: ignore[attr-defined]
    if case.state != CaseState.NEW:
        case.responded_at = events[1].at
    if case.state == CaseState.WAITING_CUSTOMER:
        case.sla_paused_at = events[-1].at
        return
    if case.sla_warn_at <= now:
        case.sla_warned_at = case.sla_warn_at
    if case.resolution_due <= now:
        case.sla_breached_at = case.resolution_due


def interaction_count(rng: random.Random) -> int:
    """Contacts per customer, skewed as in real life: most have a few, some have many."""
    return min(int(rng.lognormvariate(1.6, 0.8)), 400)


def seed_demo(
    *,
    customers: int,
    agents: list[User],
    progress: Callable[[int], None] = lambda n: None,
    now: datetime | None = None,
) -> int:
    """Create demo customers up to `customers` in all; returns how many were created."""
    now = now or timezone.now()
    types = demo_case_types_ensure(agents=agents)
    start = Customer.objects.count()
    for first in range(start, customers, BATCH):
        last = min(first + BATCH, customers)
        batch_write(batch_build(range(first, last), agents, now, types))
        progress(last - first)
    return max(customers - start, 0)


def batch_build(indexes: range, agents: list[User], now: datetime, types: list[CaseType]) -> Batch:
    batch = Batch()
    fakers = {Language.GERMAN: Faker("de_DE"), Language.ENGLISH: Faker("en_GB")}
    for faker in fakers.values():
        faker.seed_instance(SEED + indexes.start)
    places = Faker("de_DE")  # its own instance, so that the names stay as they were
    places.seed_instance(SEED + 1 + indexes.start)
    for index in indexes:
        rng = random.Random(SEED * 7919 + index)
        language = Language.GERMAN if rng.random() < 0.7 else Language.ENGLISH
        customer = Customer(
            number="",
            name=fakers[language].name(),
            language=language,
            created_at=now - timedelta(days=HISTORY_DAYS + rng.randint(0, 2000)),
        )
        batch.customers.append(customer)
        master_data_build(batch, customer, index, indexes, agents, places)
        case_builds = list(cases_for(customer, index, rng, agents, now, types))
        batch.cases.extend(c for c, _ in case_builds)
        for interaction in interactions_for(customer, rng, agents, now, case_builds):
            batch.interactions.append(interaction)
    return batch


def master_data_build(
    batch: Batch,
    customer: Customer,
    index: int,
    indexes: range,
    agents: list[User],
    places: Faker,
) -> None:
    """Kind, consent, contact points, addresses and holdings: unique values drawn from the
    index, everything else from a random generator of its own (the contacts stay as they were).
    """
    rng = random.Random(SEED * 104729 + index)
    original = (
        batch.customers[-2] if index % DUPLICATE_EVERY == 7 and index > indexes.start else None
    )
    if original is not None:
        duplicate_build(batch, customer, original, index)
        return
    since = customer.created_at.date()
    if rng.random() < 0.08:
        customer.kind = CustomerKind.ORGANISATION
        customer.name = f"{places.last_name()} {rng.choice(['GmbH', 'AG', 'KG', 'e.K.'])}"
        customer.register_number = f"HRB {rng.randint(1000, 99999)}"
        customer.segment = Segment.BUSINESS
    else:
        customer.date_of_birth = date(1940, 1, 1) + timedelta(days=rng.randint(0, 365 * 65))
        customer.segment = Segment.PREMIUM if rng.random() < 0.06 else Segment.PRIVATE
    customer.preferred_channel = rng.choice([Channel.PHONE, Channel.EMAIL, Channel.SMS, ""])
    customer.consent_service = rng.random() < 0.85
    customer.consent_marketing = rng.random() < 0.4
    customer.status = CustomerStatus.BLOCKED if rng.random() < 0.01 else CustomerStatus.ACTIVE
    contacts_build(batch, customer, index, rng)
    address = Address(
        customer=customer,
        street=places.street_address(),
        postal_code=places.postcode(),
        city=places.city(),
        valid_from=since,
    )
    if rng.random() < 0.2:  # moved once: the old address ended, the change is on the timeline
        moved = since + timedelta(days=rng.randint(30, HISTORY_DAYS))
        earlier = Address(
            customer=customer,
            street=places.street_address(),
            postal_code=places.postcode(),
            city=places.city(),
            valid_from=since,
            valid_until=moved - timedelta(days=1),
        )
        address.valid_from = moved
        batch.addresses.append(earlier)
        at = timezone.make_aware(datetime.combine(moved, datetime.min.time())) + timedelta(hours=10)
        for name in ("street", "postal_code", "city"):
            change = CustomerChange(
                customer=customer,
                entity=ChangeEntity.ADDRESS,
                entity_id=0,  # the new address's id, set when written
                field=name,
                old=getattr(earlier, name),
                new=getattr(address, name),
                by=rng.choice(agents),
                at=at,
            )
            change._demo_address = address  # type: ignore[attr-defined]
            batch.changes.append(change)
    batch.addresses.append(address)
    holdings_build(batch, customer, index, rng, since)


def contacts_build(batch: Batch, customer: Customer, index: int, rng: random.Random) -> None:
    mobile = f"{rng.choice(MOBILE_PREFIXES)} {index % 100_000_000:08d}"
    contact_add(batch, customer, ContactKind.MOBILE, mobile, verified=rng.random() < 0.7)
    if rng.random() < 0.4:
        contact_add(batch, customer, ContactKind.PHONE, f"030 {1_000_000 + index % 9_000_000}")
    slug = slugify(customer.name).replace("-", ".") or "kunde"
    domain = "example.de" if customer.language == Language.GERMAN else "example.com"
    contact_add(batch, customer, ContactKind.EMAIL, f"{slug}.{index}@{domain}", verified=True)
    if rng.random() < 0.15:
        contact_add(batch, customer, ContactKind.SOCIAL, f"@{slug}{index}", network="instagram")
    if rng.random() < 0.2:
        whatsapp = phone_normalise(mobile)
        contact_add(batch, customer, ContactKind.MESSENGER, whatsapp, network="whatsapp")


def contact_add(
    batch: Batch,
    customer: Customer,
    kind: str,
    value: str,
    *,
    network: str = "",
    verified: bool = False,
) -> None:
    if kind in (ContactKind.PHONE, ContactKind.MOBILE):
        normalised = phone_normalise(value)
    elif kind == ContactKind.EMAIL:
        normalised = value.lower()
    else:
        normalised = f"{network}:{value.lstrip('@').lower()}"
    batch.contact_points.append(
        ContactPoint(
            customer=customer,
            kind=kind,
            network=network,
            value=value,
            normalised=normalised,
            verified=verified,
            primary=True,
        )
    )


def holdings_build(
    batch: Batch, customer: Customer, index: int, rng: random.Random, since: date
) -> None:
    methods, weights = list(PAYMENT_WEIGHTS), list(PAYMENT_WEIGHTS.values())
    today = timezone.localdate()
    for n, (product, fee) in enumerate(rng.sample(PRODUCTS, rng.choice([1, 1, 2, 2, 3]))):
        start = since + timedelta(days=rng.randint(0, 400))
        ended = rng.random() < 0.15
        method = rng.choices(methods, weights=weights)[0]
        iban = ""
        if method == PaymentMethod.DIRECT_DEBIT:
            account = str(1_000_000 + index * 10 + n)
            iban = IBAN.generate("DE", bank_code="37040044", account_code=account).compact
        batch.holdings.append(
            Holding(
                customer=customer,
                product=product,
                contract_number=f"V-{index:07d}-{n + 1}",
                status=HoldingStatus.ENDED if ended else HoldingStatus.ACTIVE,
                start=start,
                end=min(start + timedelta(days=rng.randint(90, 700)), today) if ended else None,
                monthly_fee=fee,
                billing_account=f"B-{index:07d}",
                payment_method=method,
                iban=iban,
            )
        )


def duplicate_build(batch: Batch, customer: Customer, original: Customer, index: int) -> None:
    """A second record of the same person, as a web form creates one: the name spelt
    differently, the same birth date and address, the mobile number entered as a landline."""
    name = original.name
    for letter, spelt in UMLAUTS.items():
        name = name.replace(letter, spelt)
    if name == original.name:  # no umlaut: a typo instead
        name = name[:-2] + name[-1] if len(name) > 4 else name + "e"
    customer.name = name
    customer.language = original.language
    customer.date_of_birth = original.date_of_birth
    customer.kind = original.kind
    customer.register_number = original.register_number
    customer.consent_service = False
    address = next(a for a in reversed(batch.addresses) if a.customer is original)
    batch.addresses.append(
        Address(
            customer=customer,
            street=address.street,
            postal_code=address.postal_code,
            city=address.city,
            valid_from=customer.created_at.date(),
        )
    )
    mobile = next(
        c for c in batch.contact_points if c.customer is original and c.kind == ContactKind.MOBILE
    )
    contact_add(batch, customer, ContactKind.PHONE, mobile.value)
    slug = slugify(name).replace("-", ".")
    contact_add(batch, customer, ContactKind.EMAIL, f"{slug}.{index}@example.net")


def cases_for(
    customer: Customer,
    index: int,
    rng: random.Random,
    agents: list[User],
    now: datetime,
    types: list[CaseType],
) -> Iterator[tuple[Case, list[CaseEvent]]]:
    """Every third customer has a case now and then; a few have several.

    The first cases go through the states in turn, so that even a small demo has every state.
    """
    if index % 3:
        return
    states = list(STATE_WEIGHTS)
    for number in range(1 + (rng.random() < 0.2)):
        if number == 0 and index // 3 < len(states):
            state = states[index // 3]
        else:
            state = rng.choices(states, weights=list(STATE_WEIGHTS.values()))[0]
        opened = now - timedelta(
            days=rng.randint(0, 3) if state in ACTIVE_DEMO_STATES else rng.randint(4, HISTORY_DAYS),
            minutes=rng.randint(0, 600),
        )
        topic = rng.randrange(len(TOPICS[Language(customer.language)]))
        subject, _body = TOPICS[Language(customer.language)][topic]
        case_type = types[topic]
        case = Case(
            reference=str(opened.year),  # numbered when written
            customer=customer,
            subject=subject,
            state=state,
            case_type=case_type,
            team=case_type.default_team,
            priority=case_type.default_priority,
            # Half the new cases wait in their team's queue for "get next case".
            assignee=None
            if state == CaseState.NEW or (state == CaseState.OPEN and rng.random() < 0.3)
            else rng.choice(agents),
            created_at=opened,
            updated_at=opened,
        )
        events = events_for(case, rng, agents)
        if state in ACTIVE_DEMO_STATES:
            demo_clock(case, now)
        yield case, events


def events_for(case: Case, rng: random.Random, agents: list[User]) -> list[CaseEvent]:
    at = case.created_at
    events = [CaseEvent(case=case, kind=CaseEventKind.CREATED, target=CaseState.NEW, at=at)]
    german = case.customer.language == Language.GERMAN
    for name, source, target in STATE_PATHS[case.state]:
        at += timedelta(hours=rng.randint(1, 30))
        reason = ""
        if name == "resolve":
            case.resolution = reason = "Erledigt." if german else "Done."
            case.resolved_at = at
        elif name == "escalate":
            case.escalation_reason = reason = ESCALATION_REASONS[Language(case.customer.language)]
            case.escalated_at, case.escalated_by = at, case.assignee
        elif name == "cancel":
            reason = "Kunde hat zurückgezogen." if german else "Customer withdrew."
        events.append(
            CaseEvent(
                case=case,
                kind=CaseEventKind.TRANSITION,
                transition=name,
                source=source,
                target=target,
                by=case.assignee or rng.choice(agents),
                at=at,
                reason=reason,
            )
        )
    case.updated_at = at
    case._demo_events = events  # type: ignore[attr-defined]
    return events


def interactions_for(
    customer: Customer,
    rng: random.Random,
    agents: list[User],
    now: datetime,
    case_builds: list[tuple[Case, list[CaseEvent]]],
) -> Iterator[Interaction]:
    topics = TOPICS[Language(customer.language)]
    channels, weights = list(CHANNEL_WEIGHTS), list(CHANNEL_WEIGHTS.values())
    for _ in range(interaction_count(rng)):
        subject, body = rng.choice(topics)
        direction = Direction.INBOUND if rng.random() < 0.7 else Direction.OUTBOUND
        yield Interaction(
            customer=customer,
            channel=rng.choices(channels, weights=weights)[0],
            direction=direction,
            occurred_at=now - timedelta(minutes=rng.randint(60, HISTORY_DAYS * 24 * 60)),
            subject=subject,
            body=body,
            agent=rng.choice(agents) if direction == Direction.OUTBOUND else None,
        )
    for case, _events in case_builds:
        _subject, body = next(t for t in topics if t[0] == case.subject)
        interaction = Interaction(
            customer=customer,
            channel=rng.choices(channels, weights=weights)[0],
            direction=Direction.INBOUND,
            occurred_at=case.created_at - timedelta(minutes=rng.randint(1, 30)),
            subject=case.subject,
            body=body,
        )
        interaction._demo_case = case  # type: ignore[attr-defined]
        yield interaction


def numbers_assign(batch: Batch) -> None:
    """Draw customer numbers and case references from their sequences, a block at a time."""
    serials = sequence_numbers(name="customer", count=len(batch.customers))
    for serial, customer in zip(serials, batch.customers, strict=True):
        customer.number = customer_number(serial)
    years = sorted({case.reference for case in batch.cases})
    for year in years:
        in_year = [case for case in batch.cases if case.reference == year]
        serials = sequence_numbers(name=f"case-{year}", count=len(in_year))
        for serial, case in zip(serials, in_year, strict=True):
            case.reference = case_reference(int(year), serial)


@transaction.atomic
def batch_write(batch: Batch) -> None:
    numbers_assign(batch)
    Customer.objects.bulk_create(batch.customers, batch_size=BATCH)
    for case in batch.cases:
        case.customer_id = case.customer.pk
    Case.objects.bulk_create(batch.cases, batch_size=BATCH)
    events = []
    for case in batch.cases:
        for event in case._demo_events:  # type: ignore[attr-defined]
            event.case_id = case.pk
            event.customer_id = case.customer_id
            events.append(event)
    CaseEvent.objects.bulk_create(events, batch_size=BATCH)
    for interaction in batch.interactions:
        interaction.customer_id = interaction.customer.pk
        case = getattr(interaction, "_demo_case", None)
        interaction.case_reference = case.reference if case else ""
    Interaction.objects.bulk_create(batch.interactions, batch_size=BATCH)
    for row in [*batch.contact_points, *batch.addresses, *batch.holdings, *batch.changes]:
        row.customer_id = row.customer.pk
    ContactPoint.objects.bulk_create(batch.contact_points, batch_size=BATCH)
    Address.objects.bulk_create(batch.addresses, batch_size=BATCH)
    Holding.objects.bulk_create(batch.holdings, batch_size=BATCH)
    for change in batch.changes:
        change.entity_id = change._demo_address.pk  # type: ignore[attr-defined]
    CustomerChange.objects.bulk_create(batch.changes, batch_size=BATCH)


# Complaints stop at the goodwill decision (80 EUR needs a supervisor); billing questions
# are walked to their second step. Through the services, as an agent would.
DEMO_RUNS = [
    (
        "Complaint",
        {"complaint_text": "Der Techniker kam nicht.", "complaint_category": "technician"},
        {"goodwill_amount": "80"},
    ),
    ("Billing question", {"invoice_correct": "no"}, None),
]


def demo_guided_runs_ensure(*, agents: list[User], per_type: int = 2) -> int:
    """A few guided runs in progress, some waiting for a supervisor; once only."""
    if GuidedRun.objects.exists():
        return 0
    started = 0
    for type_name, first, second in DEMO_RUNS:
        cases = Case.objects.filter(
            case_type__name_en=type_name,
            case_type__process__isnull=False,
            state__in=[CaseState.NEW, CaseState.OPEN],
        ).select_related("case_type__process", "customer")[:per_type]
        for number, case in enumerate(cases):
            version = version_for_start(process_key=case.case_type.process.key)
            if version is None:
                continue
            agent = agents[number % len(agents)]
            run = run_start(case=case, version=version, by=agent)
            for answers in (first, second):
                if answers:
                    run.refresh_from_db()
                    run_step_submit(case=case, by=agent, data=answers, revision=run.revision)
            started += 1
    return started
