"""Who wrote, and which case a message belongs to: identity resolution and threading order."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from cases.intake import inbound_receive
from cases.models import Case, CaseState, CaseType, ExceptionItem, InboundMessage, IntakeRule
from customers.models import ContactKind, CustomerStatus, Interaction
from tests.factories import CaseFactory, ContactPointFactory, CustomerFactory, HoldingFactory

pytestmark = pytest.mark.django_db

counter = iter(range(1_000_000))


def receive(channel: str, **fields: object) -> InboundMessage:
    payload = {"external_id": f"x-{next(counter)}", **fields}
    return inbound_receive(channel=channel, payload=payload).message


@pytest.fixture
def anna():
    customer = CustomerFactory(name="Anna Müller")
    ContactPointFactory(
        customer=customer,
        kind=ContactKind.EMAIL,
        value="Anna@Example.de",
        normalised="anna@example.de",
    )
    ContactPointFactory(customer=customer, value="0151 23456789", normalised="+4915123456789")
    return customer


# --- identity ------------------------------------------------------------------------------


def test_sender_is_matched_by_normalised_email(anna) -> None:
    message = receive("email", **{"from": "  ANNA@example.DE "}, subject="Hallo")
    assert message.customer == anna
    assert message.interaction.customer == anna


def test_sender_is_matched_by_phone_number_in_any_format(anna) -> None:
    assert receive("sms", **{"from": "+49 (151) 234-56789"}).customer == anna
    assert receive("phone", **{"from": "015123456789"}).customer == anna


def test_social_handles_match_per_network() -> None:
    customer = CustomerFactory()
    ContactPointFactory(
        customer=customer,
        kind=ContactKind.SOCIAL,
        network="instagram",
        value="@anna.m",
        normalised="instagram:anna.m",
    )
    message = receive("social", **{"from": "@Anna.M"}, meta={"network": "instagram"})
    assert message.customer == customer
    other = receive("social", **{"from": "@Anna.M"}, meta={"network": "x"})
    assert other.customer != customer


def test_unknown_sender_found_by_customer_or_contract_number() -> None:
    customer = CustomerFactory()
    holding = HoldingFactory(customer=customer)
    by_number = receive("email", **{"from": "new@example.de"}, customer_ref=customer.number)
    assert by_number.customer == customer
    by_contract = receive(
        "webform", **{"from": "x@example.de"}, customer_ref=holding.contract_number
    )
    assert by_contract.customer == customer


def test_unknown_sender_becomes_a_prospect_to_identify() -> None:
    message = receive("email", **{"from": "Stranger@Example.de"}, subject="Frage")
    prospect = message.customer
    assert prospect.status == CustomerStatus.PROSPECT
    contact = prospect.contact_points.get()
    assert (contact.normalised, contact.verified) == ("stranger@example.de", False)
    item = ExceptionItem.objects.get(source="to-identify")
    assert item.case == message.case
    assert prospect.number in item.reason
    # The same stranger again: the same prospect, the same (open) case.
    again = receive("email", **{"from": "stranger@example.de"}, subject="Noch eine Frage")
    assert again.customer == prospect


def test_ambiguous_sender_is_never_guessed() -> None:
    first, second = CustomerFactory(), CustomerFactory()
    ContactPointFactory(
        customer=first, kind=ContactKind.PHONE, value="030 1234567", normalised="+49301234567"
    )
    ContactPointFactory(
        customer=second, kind=ContactKind.MOBILE, value="030 1234567", normalised="+49301234567"
    )
    message = receive("sms", **{"from": "030 1234567"}, body="Wer bin ich?")
    assert message.customer not in (first, second)
    assert message.customer.status == CustomerStatus.PROSPECT
    item = ExceptionItem.objects.get(source="to-identify")
    assert first.number in item.reason and second.number in item.reason


def test_ambiguous_sender_with_a_customer_number_of_one_of_them_is_that_customer() -> None:
    first, second = CustomerFactory(), CustomerFactory()
    ContactPointFactory(customer=first, kind=ContactKind.PHONE, normalised="+49301234567")
    ContactPointFactory(customer=second, kind=ContactKind.MOBILE, normalised="+49301234567")
    message = receive("sms", **{"from": "030 1234567"}, customer_ref=second.number)
    assert message.customer == second


# --- threading -----------------------------------------------------------------------------


def test_case_ref_field_comes_first(anna) -> None:
    named = CaseFactory(customer=anna)
    other = CaseFactory(customer=anna)
    message = receive(
        "email",
        **{"from": "anna@example.de"},
        case_ref=named.reference,
        subject=f"About {other.reference}",
    )
    assert message.case == named
    assert message.reason_display == "case reference given by the channel"
    assert message.interaction.case_reference == named.reference
    assert not message.needs_confirmation


def test_reference_in_subject_then_body(anna) -> None:
    case = CaseFactory(customer=anna)
    in_subject = receive("email", **{"from": "anna@example.de"}, subject=f"Re: {case.reference}")
    assert (in_subject.case, in_subject.reason_display) == (case, "reference in the subject")
    in_body = receive("sms", **{"from": "0151 23456789"}, body=f"zu {case.reference.lower()} noch")
    assert (in_body.case, in_body.reason_display) == (case, "reference in the text")


def test_reply_to_a_message_of_a_case(anna) -> None:
    first = receive("email", **{"from": "anna@example.de"}, subject="Rechnung")
    CaseFactory(customer=anna)  # a newer open case must not win over the reply
    reply = inbound_receive(
        channel="email",
        payload={
            "external_id": "r-1",
            "from": "anna@example.de",
            "subject": "Re: Rechnung",
            "in_reply_to": f"<{first.external_id}>",
        },
    ).message
    assert reply.case == first.case
    assert reply.reason_display == "reply to a message of this case"


def test_open_case_of_the_customer_on_any_channel_within_the_window(anna) -> None:
    email = receive("email", **{"from": "anna@example.de"}, subject="Umzug")
    sms = receive("sms", **{"from": "0151 23456789"}, body="Wann kommt der Techniker?")
    assert sms.case == email.case
    assert sms.reason_display.startswith("same customer, open case")


def test_a_case_outside_the_window_is_not_continued(anna, settings) -> None:
    settings.CPM_INTAKE_THREAD_DAYS = 14
    old = CaseFactory(customer=anna)
    Case.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(days=15))
    message = receive("email", **{"from": "anna@example.de"}, subject="Neu")
    assert message.case != old
    assert message.reason_display.startswith("new case")


def test_a_resolved_case_is_not_continued(anna) -> None:
    done = CaseFactory(customer=anna, state=CaseState.RESOLVED)
    assert receive("email", **{"from": "anna@example.de"}).case != done


def test_a_new_case_gets_the_type_intake_rules_choose(anna) -> None:
    billing = CaseType.objects.create(name_en="Billing", name_de="Rechnung")
    IntakeRule.objects.create(case_type=billing, keywords="rechnung, invoice")
    message = receive("email", **{"from": "anna@example.de"}, subject="Meine RECHNUNG")
    assert message.case.case_type == billing
    # A message about another topic does not join the billing case.
    other = receive("email", **{"from": "anna@example.de"}, subject="Hallo")
    assert other.case == message.case  # no specific topic: the open case takes it
    IntakeRule.objects.create(
        case_type=CaseType.objects.create(name_en="Move", name_de="Umzug"),
        keywords="umzug",
        position=1,
    )
    move = receive("email", **{"from": "anna@example.de"}, subject="Umzug nach Köln")
    assert move.case != message.case
    assert move.case.case_type.name_en == "Move"


def test_default_case_type_is_general_inquiry() -> None:
    message = receive("webform", **{"from": "neu@example.de"}, body="Frage")
    assert message.case.case_type.name_en == "General inquiry"


def test_a_reference_quoted_by_a_stranger_attaches_but_is_flagged(anna) -> None:
    case = CaseFactory(customer=anna)
    message = receive("email", **{"from": "mallory@example.com"}, subject=f"{case.reference}")
    assert message.case == case
    assert message.needs_confirmation
    assert "confirm" in message.reason_display
    assert not ExceptionItem.objects.filter(source="to-identify").exists()


def test_the_case_screen_shows_why_a_message_was_attached(anna, agent_client) -> None:
    case = CaseFactory(customer=anna)
    message = receive("email", **{"from": "mallory@example.com"}, subject=f"{case.reference}")
    page = agent_client.get(case.get_absolute_url()).content.decode()
    assert "reference in the subject" in page
    assert "confirm the sender" in page

    response = agent_client.post(f"/cases/{case.reference}/messages/{message.pk}/confirm/")
    assert response.status_code == 302
    message.refresh_from_db()
    assert not message.needs_confirmation
    assert "mallory@example.com" in case.events.get(kind="note").reason
    assert "confirm the sender" not in agent_client.get(case.get_absolute_url()).content.decode()


def test_a_message_of_another_case_cannot_be_confirmed_through_this_one(anna, agent_client):
    case, other = CaseFactory(customer=anna), CaseFactory(customer=anna)
    message = receive("email", **{"from": "mallory@example.com"}, subject=f"{other.reference}")
    response = agent_client.post(f"/cases/{case.reference}/messages/{message.pk}/confirm/")
    assert response.status_code == 404


def test_customer_journey_email_then_sms_then_call_end_up_in_one_case(client) -> None:
    """Done-when of issue 5 (intake part): one matter on three channels is one case."""
    from cases.intake import channel_key_create

    customer = CustomerFactory()
    ContactPointFactory(customer=customer, kind=ContactKind.EMAIL, normalised="kim@example.de")
    ContactPointFactory(customer=customer, normalised="+4917011112222")
    keys = {c: channel_key_create(channel=c, name=c)[1] for c in ("email", "sms", "phone")}
    bodies = {
        "email": {"external_id": "<1@mail>", "from": "kim@example.de", "subject": "Router defekt"},
        "sms": {"external_id": "sms-77", "from": "0170 11112222", "body": "Schon was Neues?"},
        "phone": {
            "external_id": "call-9",
            "from": "+49 170 11112222",
            "meta": {"duration": 240, "wrap_up": "Techniker bestellt"},
        },
    }
    cases = set()
    for channel, body in bodies.items():
        response = client.post(
            f"/api/v1/inbound/{channel}",
            body,
            content_type="application/json",
            headers={"Authorization": f"Bearer {keys[channel]}"},
        )
        assert response.status_code == 201, response.content
        cases.add(response.json()["case"])
    assert len(cases) == 1
    interactions = Interaction.objects.filter(case_reference=cases.pop())
    assert sorted(interactions.values_list("channel", flat=True)) == ["email", "phone", "sms"]
    assert interactions.get(channel="phone").subject == "Call, 4 min"


def test_demo_rules_route_an_outage_message_to_the_outage_type(agent) -> None:
    from cpm.demo import demo_case_types_ensure

    demo_case_types_ensure(agents=[agent])
    message = receive("email", **{"from": "neu@example.de"}, subject="Kein Internet seit gestern")
    assert message.case.case_type.name_en == "Outage"
    general = receive("email", **{"from": "other@example.de"}, subject="Hallo")
    assert general.case.team.name == "Billing"
