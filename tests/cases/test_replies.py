"""Agent replies from the case screen: channels, templates, the outbox, refusals."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse

from cases.models import (
    CaseEvent,
    CaseEventKind,
    CaseState,
    OutboundMessage,
    OutboundStatus,
    ReplyTemplate,
)
from cases.outbox import outbound_deliver
from cases.placeholders import placeholder_problems, placeholders_fill
from cases.replies import reply_channels, reply_default_channel
from customers.models import ContactKind, Direction, Interaction, Language
from tests.factories import CaseFactory, ContactPointFactory, CustomerFactory, InteractionFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
TOKEN = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def customer():
    customer = CustomerFactory(consent_service=True, language=Language.ENGLISH, name="Kim Lee")
    email = "kim@example.de"
    ContactPointFactory(customer=customer, kind=ContactKind.EMAIL, value=email, normalised=email)
    ContactPointFactory(customer=customer, value="0151 1234567", normalised="+491511234567")
    return customer


@pytest.fixture
def case(customer):
    return CaseFactory(customer=customer, state=CaseState.OPEN)


@pytest.fixture
def template():
    template = ReplyTemplate(
        name="Next step",
        subject_de="Ihr Vorgang {case_reference}",
        subject_en="Your case {case_reference}",
        body_de="Hallo {customer_name}, als Nächstes: {next_step}",
        body_en="Hello {customer_name}, next: {next_step} ({case_reference})",
    )
    template.full_clean()
    template.save()
    return template


def send_url(case) -> str:
    return reverse("cases:case-reply-send", args=[case.reference])


def send(client, case, **fields):
    data = {"channel": "email", "subject": "", "body": "Hello", "token": TOKEN, **fields}
    return client.post(send_url(case), data, **HTMX)


def nothing_saved(case) -> bool:
    return (
        not OutboundMessage.objects.exists()
        and not Interaction.objects.filter(direction=Direction.OUTBOUND).exists()
        and not CaseEvent.objects.filter(case=case, kind=CaseEventKind.REPLY).exists()
    )


# --- placeholders ----------------------------------------------------------------------------


def test_placeholders_are_filled_once_and_values_are_never_filled_again() -> None:
    values = {"customer_name": "{case_reference}", "case_reference": "C-2026-000001"}
    text = placeholders_fill("Hi {customer_name}, {case_reference}, {next_step}.", values)
    assert text == "Hi {case_reference}, C-2026-000001, ."


@pytest.mark.parametrize(
    "text",
    ["{customer_name.__class__}", "{case_reference[0]}", "{customer_name!r}", "{x}", "{{ x }}"],
)
def test_a_template_with_anything_but_the_allowed_placeholders_is_refused(text: str) -> None:
    assert placeholder_problems(text)
    template = ReplyTemplate(name="Bad", body_de=text, body_en="ok")
    with pytest.raises(ValidationError) as raised:
        template.full_clean()
    assert "body_de" in raised.value.message_dict


def test_the_allowed_placeholders_pass() -> None:
    assert placeholder_problems("{customer_name} {case_reference} {next_step}") == []


# --- channels --------------------------------------------------------------------------------


def test_channels_are_those_with_an_active_contact_point(case) -> None:
    channels = reply_channels(case)
    assert [(c.channel, c.recipient) for c in channels] == [
        ("email", "kim@example.de"),
        ("sms", "+491511234567"),
    ]


def test_without_consent_only_a_customer_who_wrote_on_the_case_can_be_answered() -> None:
    customer = CustomerFactory(consent_service=False)
    ContactPointFactory(customer=customer, kind=ContactKind.EMAIL, normalised="a@b.de")
    case = CaseFactory(customer=customer)
    assert reply_channels(case) == []
    InteractionFactory(customer=customer, case_reference=case.reference)
    assert [c.channel for c in reply_channels(case)] == ["email"]


def test_default_channel_is_the_one_used_last_on_the_case_then_the_preferred(case) -> None:
    channels = reply_channels(case)
    assert reply_default_channel(case, channels) == "email"
    case.customer.preferred_channel = "sms"
    assert reply_default_channel(case, channels) == "sms"
    InteractionFactory(customer=case.customer, channel="email", case_reference=case.reference)
    assert reply_default_channel(case, channels) == "email"


# --- the form and sending --------------------------------------------------------------------


def test_a_template_fills_the_form_in_the_customers_language(agent_client, case, template) -> None:
    url = reverse("cases:case-reply-form", args=[case.reference])
    response = agent_client.get(url, {"template": template.pk, "next_step": "<b>a technician</b>"})
    html = response.content.decode()
    assert f"Your case {case.reference}" in html
    assert f"Hello Kim Lee, next: &lt;b&gt;a technician&lt;/b&gt; ({case.reference})" in html
    assert "<b>a technician</b>" not in html


def test_sending_queues_one_message_with_its_interaction_and_event(agent, agent_client, case):
    response = send(agent_client, case, body="Dear Kim,\r\nwe fixed it.", subject="Fixed")
    assert response.status_code == 200
    assert "case:changed" in response["HX-Trigger"]
    assert "customer:changed" in response["HX-Trigger"]  # the timeline shows the reply
    message = OutboundMessage.objects.get()
    assert (message.channel, message.recipient, message.status) == (
        "email",
        "kim@example.de",
        OutboundStatus.QUEUED,
    )
    assert message.subject == f"Fixed [{case.reference}]"  # the answer threads back
    assert message.body == "Dear Kim,\nwe fixed it."
    assert message.by == agent
    assert message.interaction.direction == Direction.OUTBOUND
    assert message.interaction.agent == agent
    assert message.interaction.case_reference == case.reference
    event = CaseEvent.objects.get(case=case, kind=CaseEventKind.REPLY)
    assert "kim@example.de" in event.reason


def test_the_same_form_sent_twice_sends_one_message(agent_client, case) -> None:
    send(agent_client, case)
    send(agent_client, case)
    assert OutboundMessage.objects.count() == 1
    assert Interaction.objects.filter(direction=Direction.OUTBOUND).count() == 1


def test_delivery_sends_the_reply_once_as_a_person_and_keeps_its_interaction(
    agent_client, case
) -> None:
    send(agent_client, case, body="Written by a person")
    message = OutboundMessage.objects.get()
    outbound_deliver(pk=message.pk)
    outbound_deliver(pk=message.pk)
    assert len(mail.outbox) == 1
    assert "Auto-Submitted" not in mail.outbox[0].extra_headers
    message.refresh_from_db()
    assert message.status == OutboundStatus.SENT
    assert Interaction.objects.filter(direction=Direction.OUTBOUND).count() == 1


def test_the_replies_panel_shows_the_status_and_polls_only_while_queued(agent_client, case):
    send(agent_client, case, body="<script>alert(1)</script>")
    url = reverse("cases:case-replies", args=[case.reference])
    html = agent_client.get(url).content.decode()
    assert "delivery-queued" in html
    assert "every 5s" in html
    assert "<script>alert(1)</script>" not in html
    outbound_deliver(pk=OutboundMessage.objects.get().pk)
    html = agent_client.get(url).content.decode()
    assert "delivery-sent" in html
    assert "every 5s" not in html


@pytest.mark.parametrize(
    ("fields", "status", "says"),
    [
        ({"body": "   "}, 400, "Write the reply first"),
        ({"channel": "sms", "body": "x" * 1601}, 400, "too long"),
        ({"body": "x" * 5001}, 400, "too long"),
        ({"subject": "s" * 301}, 400, "subject is too long"),
        ({"channel": "chat"}, 400, "cannot be reached"),
        ({"expected_state": "new"}, 409, "changed meanwhile"),
    ],
)
def test_bad_input_is_refused_inline_and_saves_nothing(
    agent_client, case, fields, status, says
) -> None:
    response = send(agent_client, case, **{"body": "Kept text", **fields})
    assert response.status_code == status
    html = response.content.decode()
    assert says in html
    assert 'role="alert"' in html
    assert nothing_saved(case)


def test_typed_text_stays_in_the_form_after_a_refusal(agent_client, case) -> None:
    response = send(agent_client, case, body="Please keep <this>", expected_state="new")
    assert "Please keep &lt;this&gt;" in response.content.decode()


def test_no_contact_point_for_the_channel_is_refused(agent_client) -> None:
    customer = CustomerFactory(consent_service=True)
    ContactPointFactory(customer=customer)  # mobile only
    case = CaseFactory(customer=customer, state=CaseState.OPEN)
    response = send(agent_client, case, channel="email")
    assert response.status_code == 400
    assert nothing_saved(case)


@pytest.mark.parametrize("state", [CaseState.CLOSED, CaseState.CANCELLED])
def test_a_closed_case_takes_no_reply(agent_client, customer, state) -> None:
    case = CaseFactory(customer=customer, state=state)
    response = send(agent_client, case, expected_state=state)
    assert response.status_code == 409
    assert nothing_saved(case)


def test_a_plain_form_post_redirects_back_with_a_message(agent_client, case) -> None:
    response = agent_client.post(send_url(case), {"channel": "email", "body": ""}, follow=True)
    assert "Write the reply first" in response.content.decode()
    assert nothing_saved(case)


def test_the_case_page_loads_the_reply_panels_lazily(agent_client, case) -> None:
    html = agent_client.get(case.get_absolute_url()).content.decode()
    assert reverse("cases:case-reply-form", args=[case.reference]) in html
    assert reverse("cases:case-replies", args=[case.reference]) in html


def test_admin_refuses_a_template_with_template_code(admin_client) -> None:
    url = reverse("admin:cases_replytemplate_add")
    data = {
        "name": "Sneaky",
        "position": 1,
        "active": "on",
        "body_de": "{{ request.user.password }}",
        "body_en": "{customer_name.__init__.__globals__}",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "Unknown placeholder" in response.content.decode()
    assert not ReplyTemplate.objects.exists()


def test_the_demo_reply_templates_are_valid_and_seeded_once() -> None:
    from cpm.demo import demo_reply_templates_ensure

    assert demo_reply_templates_ensure() == 3
    assert demo_reply_templates_ensure() == 0
    for template in ReplyTemplate.objects.all():
        template.full_clean()
        assert "{case_reference}" in template.body_de + template.body_en
