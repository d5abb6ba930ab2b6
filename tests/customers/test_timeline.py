from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.models import Channel, CustomerEvent, EventKind, Interaction
from customers.selectors import TimelineKind, entry_key, parse_timeline_cursor, timeline_page
from customers.services import (
    customer_create,
    customer_event_record,
    customer_update,
    interaction_record,
)
from tests.factories import (
    AddressFactory,
    ContactPointFactory,
    CustomerFactory,
    HoldingFactory,
    InteractionFactory,
)


@pytest.mark.django_db
def test_timeline_pages_walk_the_whole_history_newest_first_without_gaps() -> None:
    customer = CustomerFactory()
    same_time = timezone.now() - timedelta(days=1)
    InteractionFactory.create_batch(7, customer=customer, occurred_at=same_time)  # ties
    InteractionFactory.create_batch(30, customer=customer)
    seen, cursor = [], ""
    while True:
        page = timeline_page(customer_id=customer.pk, cursor=cursor, size=10)
        seen.extend(page.entries)
        cursor = page.next_cursor
        if not cursor:
            break
    assert len(seen) == 37
    assert len({entry.pk for entry in seen}) == 37
    keys = [(entry.occurred_at, entry.pk) for entry in seen]
    assert keys == sorted(keys, reverse=True)


@pytest.mark.django_db
def test_timeline_filters_by_channel() -> None:
    customer = CustomerFactory()
    InteractionFactory(customer=customer, channel=Channel.SMS)
    InteractionFactory(customer=customer, channel=Channel.PHONE)
    page = timeline_page(customer_id=customer.pk, channel=Channel.SMS)
    assert [entry.channel for entry in page.entries] == [Channel.SMS]


def test_a_garbled_cursor_means_the_first_page() -> None:
    assert parse_timeline_cursor("not-a-cursor") is None
    assert parse_timeline_cursor("2026-01-01T00:00:00+00:00|12")[1] == 12


@pytest.mark.django_db
@pytest.mark.parametrize("contacts", [10, 2000])
def test_cockpit_renders_with_a_fixed_number_of_queries(
    agent_client, django_assert_max_num_queries, contacts: int
) -> None:
    customer = CustomerFactory()
    Interaction.objects.bulk_create(InteractionFactory.build_batch(contacts, customer=customer))
    ContactPointFactory.create_batch(3, customer=customer, primary=False)
    AddressFactory(customer=customer)
    HoldingFactory.create_batch(4, customer=customer)
    for n in range(30):
        customer_update(customer=customer, by=None, name=f"Name {n}")
    agent_client.get(customer.get_absolute_url())  # the agent's permissions are cached now
    # The issue allows 15 here and 12 at scale; the page needs 10 (three timeline sources,
    # the cases' flags included).
    with django_assert_max_num_queries(10):
        response = agent_client.get(customer.get_absolute_url())
    assert response.status_code == 200
    assert response.content.decode().count('class="entry ') == 25


@pytest.mark.django_db
def test_timeline_fragment_loads_older_entries_with_a_cursor(agent_client) -> None:
    customer = CustomerFactory()
    InteractionFactory.create_batch(30, customer=customer, subject="Hallo")
    url = reverse("customers:customer-timeline", args=[customer.pk])
    first = agent_client.get(url).content.decode()
    assert f'id="customer-{customer.pk}-timeline"' in first
    cursor = timeline_page(customer_id=customer.pk).next_cursor
    more = agent_client.get(url, {"cursor": cursor}).content.decode()
    assert "timeline-entries" not in more  # only the entries, appended in place
    assert more.count('class="entry ') == 5


@pytest.mark.django_db
def test_interaction_record_strips_nul_and_cuts_to_the_limit() -> None:
    customer = customer_create(name="Anna Müller")
    assert customer.number.startswith("K-")
    interaction = interaction_record(
        customer=customer,
        channel=Channel.EMAIL,
        direction="in",
        occurred_at=timezone.now(),
        body="a\x00b" + "x" * 200_000,
    )
    assert "\x00" not in interaction.body
    assert len(interaction.body) == 100_000


@pytest.mark.django_db
def test_timeline_pages_merge_contacts_changes_and_events_without_gaps() -> None:
    customer = CustomerFactory()
    tie = timezone.now() - timedelta(hours=2)
    InteractionFactory.create_batch(4, customer=customer, occurred_at=tie)
    for n in range(5):
        customer_event_record(
            customer=customer, kind=EventKind.OFFER_PRESENTED, subject=f"Offer {n}", at=tie
        )
        customer_event_record(
            customer=customer,
            kind=EventKind.OFFER_DECLINED,
            subject=f"Offer {n}",
            detail="Too expensive",
            channel=Channel.PHONE,
        )
    for n in range(6):
        customer_update(customer=customer, by=None, name=f"Name {n}")
    seen, cursor = [], ""
    while True:
        page = timeline_page(customer_id=customer.pk, cursor=cursor, size=4)
        seen.extend(page.entries)
        cursor = page.next_cursor
        if not cursor:
            break
    assert len(seen) == 4 + 10 + 6
    assert len({(type(e).__name__, e.pk) for e in seen}) == 20
    keys = [entry_key(entry) for entry in seen]
    assert keys == sorted(keys, reverse=True)
    events = timeline_page(customer_id=customer.pk, kind=TimelineKind.EVENTS).entries
    assert {type(e) for e in events} == {CustomerEvent}
    on_phone = timeline_page(customer_id=customer.pk, channel=Channel.PHONE, size=50).entries
    assert {e.kind for e in on_phone if isinstance(e, CustomerEvent)} == {"offer_declined"}
