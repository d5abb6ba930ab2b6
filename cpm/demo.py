"""Demo data: realistic German and English customers, contacts and cases, the same every time.

Rows are written with bulk inserts, like factories do, so that 100,000 customers take
minutes; the case states are set as the seed's starting point, and every case carries the
events that would have led to its state.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone
from faker import Faker

from cases.models import (
    BusinessCalendar,
    Case,
    CaseCategory,
    CaseEvent,
    CaseEventKind,
    CaseState,
    CaseType,
    GermanState,
    Priority,
    SlaPolicy,
    Team,
    WorkingHours,
)
from cases.services import case_reference
from cases.sla import deadline_after
from cpm.roles import Role, roles_sync
from customers.models import Channel, Customer, Direction, Interaction, Language
from customers.services import customer_number, sequence_reserve

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


@dataclass
class Batch:
    customers: list[Customer] = field(default_factory=list)
    interactions: list[Interaction] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)
    events: list[CaseEvent] = field(default_factory=list)


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
        types.append(case_type)
    demo_sla_policies_ensure(types)
    return types


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
        case_builds = list(cases_for(customer, index, rng, agents, now, types))
        batch.cases.extend(c for c, _ in case_builds)
        for interaction in interactions_for(customer, rng, agents, now, case_builds):
            batch.interactions.append(interaction)
    return batch


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
    first = sequence_reserve(name="customer", count=len(batch.customers))
    for offset, customer in enumerate(batch.customers):
        customer.number = customer_number(first + offset)
    years = sorted({case.reference for case in batch.cases})
    for year in years:
        in_year = [case for case in batch.cases if case.reference == year]
        first = sequence_reserve(name=f"case-{year}", count=len(in_year))
        for offset, case in enumerate(in_year):
            case.reference = case_reference(int(year), first + offset)


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
