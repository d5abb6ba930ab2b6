"""Who wrote this? An unknown sender's prospect is linked to the right customer by an agent."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from itertools import count

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cases.identify import CustomerNotFound, identify_link
from cases.intake import channel_key_create
from cases.models import CaseEvent, ExceptionItem, InboundMessage
from cases.services import CaseActionError, CaseConflict, exception_decide, exception_raise
from customers.merging import customer_merge_undo
from customers.models import ContactKind, Customer, CustomerMerge, CustomerStatus, Interaction
from tests.factories import CaseFactory, ContactPointFactory, CustomerFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
STRANGER = "+49 170 5550123"
ids = count()


@pytest.fixture
def anna() -> Customer:
    customer = CustomerFactory(name="Anna Müller")
    ContactPointFactory(
        customer=customer,
        kind=ContactKind.EMAIL,
        value="anna@example.de",
        normalised="anna@example.de",
    )
    ContactPointFactory(customer=customer, value="0151 23456789", normalised="+4915123456789")
    return customer


def sms_from_stranger(client: Client, body: str = "Mein Router blinkt rot.") -> InboundMessage:
    """An SMS from a number nobody knows, through the intake API."""
    key = channel_key_create(channel="sms", name=f"sms gateway {next(ids)}")[1]
    payload = {"external_id": f"sms-{next(ids)}", "from": STRANGER, "body": body}
    response = client.post(
        "/api/v1/inbound/sms",
        json.dumps(payload).encode(),
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 201
    return InboundMessage.objects.select_related("case", "customer").get(
        external_id=payload["external_id"]
    )


@pytest.fixture
def stranger(client: Client) -> InboundMessage:
    return sms_from_stranger(client)


def item_of(message: InboundMessage) -> ExceptionItem:
    return ExceptionItem.objects.get(source="to-identify", case=message.case)


def test_an_sms_from_an_unknown_number_is_linked_to_the_customer_by_number(
    stranger: InboundMessage, anna: Customer, agent
) -> None:
    prospect, case = stranger.customer, stranger.case
    assert prospect.status == CustomerStatus.PROSPECT and case.customer == prospect
    item = identify_link(item=item_of(stranger), customer_reference=anna.number, by=agent)

    assert (item.decided_by, item.decision) == (agent, f"Linked to Anna Müller {anna.number}")
    assert item.decided_at is not None
    prospect.refresh_from_db()
    assert prospect.merged_into == anna
    case.refresh_from_db()
    assert case.customer == anna
    assert anna.contact_points.filter(normalised="+491705550123").exists()
    assert Interaction.objects.get(case_reference=case.reference).customer == anna
    stranger.refresh_from_db()
    assert stranger.customer == anna
    note = CaseEvent.objects.get(case=case, kind="note")
    assert note.reason == f"Sender identified as Anna Müller {anna.number} by {agent.username}."
    assert (note.by, note.customer_id) == (agent, anna.pk)
    # Recorded like any merge, so it can be undone.
    merge = CustomerMerge.objects.get(source=prospect, target=anna)
    customer_merge_undo(merge=merge, by=agent)
    case.refresh_from_db()
    assert case.customer == prospect


@pytest.mark.parametrize("reference", ["0151 23456789", "ANNA@example.de", "+49 151 234 567 89"])
def test_the_customer_is_found_by_phone_or_email_too(
    stranger: InboundMessage, anna: Customer, agent, reference: str
) -> None:
    identify_link(item=item_of(stranger), customer_reference=reference, by=agent)
    stranger.case.refresh_from_db()
    assert stranger.case.customer == anna


def test_the_next_sms_from_that_number_goes_to_the_customer(
    client: Client, stranger: InboundMessage, anna: Customer, agent
) -> None:
    identify_link(item=item_of(stranger), customer_reference=anna.number, by=agent)
    again = sms_from_stranger(client, body="Immer noch rot.")
    assert again.customer == anna
    assert not ExceptionItem.objects.filter(source="to-identify", decided_at__isnull=True).exists()


def assert_nothing_changed(message: InboundMessage) -> None:
    prospect = Customer.objects.get(pk=message.customer_id)
    assert prospect.merged_into_id is None
    message.case.refresh_from_db()
    assert message.case.customer_id == prospect.pk
    assert not CaseEvent.objects.filter(case=message.case, kind="note").exists()
    assert not CustomerMerge.objects.exists()


@pytest.mark.parametrize(
    ("reference", "error", "status"),
    [
        ("", CaseActionError, 400),
        ("   ", CaseActionError, 400),
        ("K-999999", CustomerNotFound, 404),
        ("nobody@example.de", CustomerNotFound, 404),
        (STRANGER, CaseActionError, 400),  # the prospect's own number
    ],
)
def test_a_reference_that_names_nobody_else_is_refused(
    stranger: InboundMessage, agent, reference: str, error: type, status: int
) -> None:
    with pytest.raises(error) as refused:
        identify_link(item=item_of(stranger), customer_reference=reference, by=agent)
    assert refused.value.status == status
    assert item_of(stranger).decided_at is None
    assert_nothing_changed(stranger)


def test_the_prospects_own_customer_number_is_refused(stranger: InboundMessage, agent) -> None:
    with pytest.raises(CaseActionError, match="the prospect itself"):
        identify_link(item=item_of(stranger), customer_reference=stranger.customer.number, by=agent)
    assert_nothing_changed(stranger)


def test_an_erased_customer_is_refused(stranger: InboundMessage, anna: Customer, agent) -> None:
    Customer.objects.filter(pk=anna.pk).update(erased_at=timezone.now())
    with pytest.raises(CaseConflict, match="merged or erased"):
        identify_link(item=item_of(stranger), customer_reference=anna.number, by=agent)
    assert_nothing_changed(stranger)


def test_a_customer_merged_away_is_refused(stranger: InboundMessage, anna: Customer, agent) -> None:
    # Anna's record was merged into another that was itself merged on (data from elsewhere).
    kept, last = CustomerFactory(), CustomerFactory()
    Customer.objects.filter(pk=kept.pk).update(merged_into=last)
    Customer.objects.filter(pk=anna.pk).update(merged_into=kept)
    with pytest.raises(CaseConflict):
        identify_link(item=item_of(stranger), customer_reference=anna.number, by=agent)
    assert_nothing_changed(stranger)


def test_an_item_decided_already_is_refused(
    stranger: InboundMessage, anna: Customer, agent, supervisor
) -> None:
    item = item_of(stranger)
    exception_decide(item=item, by=supervisor, decision="Spam, no customer")
    with pytest.raises(CaseConflict) as refused:
        identify_link(item=item, customer_reference=anna.number, by=agent)
    assert refused.value.status == 409
    assert_nothing_changed(stranger)


def test_a_prospect_that_became_a_customer_is_refused(
    stranger: InboundMessage, anna: Customer, agent
) -> None:
    Customer.objects.filter(pk=stranger.customer_id).update(status=CustomerStatus.ACTIVE)
    with pytest.raises(CaseConflict, match="not an unverified prospect"):
        identify_link(item=item_of(stranger), customer_reference=anna.number, by=agent)
    assert_nothing_changed(stranger)


def test_another_kind_of_exception_cannot_be_linked(anna: Customer, agent) -> None:
    item = exception_raise(source="rules", reason="No rule matched", case=CaseFactory())
    with pytest.raises(CaseActionError, match="not a sender to identify"):
        identify_link(item=item, customer_reference=anna.number, by=agent)


# --- screens ------------------------------------------------------------------------------


def test_an_agent_links_the_sender_on_the_case_screen_over_htmx(
    stranger: InboundMessage, anna: Customer, agent_client: Client
) -> None:
    case, item = stranger.case, item_of(stranger)
    page = agent_client.get(case.get_absolute_url()).content.decode()
    assert "Who wrote this?" in page and f'id="case-{case.pk}-identify"' in page
    url = reverse("cases:exception-identify", args=[item.pk])

    response = agent_client.post(url, {"customer": "", "where": "case"}, **HTMX)
    assert response.status_code == 400
    assert "Enter a customer number" in response.content.decode()
    response = agent_client.post(url, {"customer": "K-999999", "where": "case"}, **HTMX)
    assert response.status_code == 404
    body = response.content.decode()
    assert f'id="case-{case.pk}-identify"' in body and 'role="alert"' in body
    assert 'value="K-999999"' in body

    response = agent_client.post(url, {"customer": anna.number, "where": "case"}, **HTMX)
    assert response.status_code == 200
    assert response["HX-Refresh"] == "true"
    page = agent_client.get(case.get_absolute_url()).content.decode()
    assert "Who wrote this?" not in page
    assert f"Sender identified as Anna Müller {anna.number}" in page


def test_a_plain_form_post_goes_back_to_the_case(
    stranger: InboundMessage, anna: Customer, agent_client: Client
) -> None:
    url = reverse("cases:exception-identify", args=[item_of(stranger).pk])
    response = agent_client.post(url, {"customer": "nobody", "where": "case"})
    assert response.status_code == 302 and response["Location"] == stranger.case.get_absolute_url()
    response = agent_client.post(url, {"customer": anna.number, "where": "case"})
    assert response.status_code == 302 and response["Location"] == stranger.case.get_absolute_url()
    stranger.case.refresh_from_db()
    assert stranger.case.customer == anna


def test_a_supervisor_links_the_sender_in_the_exception_queue(
    stranger: InboundMessage, anna: Customer, supervisor_client: Client
) -> None:
    item = item_of(stranger)
    inbox = supervisor_client.get(reverse("cases:escalation-inbox")).content.decode()
    assert f'for="exception-{item.pk}-customer"' in inbox
    url = reverse("cases:exception-identify", args=[item.pk])
    response = supervisor_client.post(url, {"customer": STRANGER}, **HTMX)
    assert response.status_code == 400
    assert f'id="exception-{item.pk}"' in response.content.decode()
    response = supervisor_client.post(url, {"customer": "anna@example.de"}, **HTMX)
    assert response.status_code == 200
    assert f"Linked to Anna Müller {anna.number}" in response.content.decode()


def test_the_link_is_only_for_to_identify_items(agent_client: Client) -> None:
    item = exception_raise(source="rules", reason="No rule matched", case=CaseFactory())
    url = reverse("cases:exception-identify", args=[item.pk])
    assert agent_client.post(url, {"customer": "K-500000"}).status_code == 404


def test_a_known_customers_case_shows_no_identify_panel(agent_client: Client) -> None:
    case = CaseFactory()
    page = agent_client.get(case.get_absolute_url()).content.decode()
    assert "Who wrote this?" not in page


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_agents_linking_at_once_merge_the_prospect_once(
    client: Client, anna: Customer, agent, supervisor
) -> None:
    stranger = sms_from_stranger(client)
    other = CustomerFactory(name="Otto Other")
    item = item_of(stranger)

    def link(job: tuple[Customer, object]) -> str:
        customer, by = job
        try:
            identify_link(item=item, customer_reference=customer.number, by=by)
            return "linked"
        except CaseConflict:
            return "conflict"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = sorted(pool.map(link, [(anna, agent), (other, supervisor)]))
    assert answers == ["conflict", "linked"]
    assert CustomerMerge.objects.count() == 1
    merge = CustomerMerge.objects.get()
    stranger.case.refresh_from_db()
    assert stranger.case.customer_id == merge.target_id
    assert CaseEvent.objects.filter(case=stranger.case, kind="note").count() == 1
