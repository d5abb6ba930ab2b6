"""Outbound SMS, chat and social through an HTTP gateway: a real local server answers."""

from __future__ import annotations

import json
import socket
import threading

import pytest

from cases.models import CaseState, ExceptionItem, OutboundMessage, OutboundStatus
from cases.outbox import MAX_ATTEMPTS, outbound_deliver
from cases.replies import reply_channels, reply_send
from customers.models import ContactKind, Direction, Interaction, Language
from tests.cases.gateway_server import Gateway
from tests.factories import CaseFactory, ContactPointFactory, CustomerFactory

pytestmark = pytest.mark.django_db
TOKEN = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def gateway():
    with Gateway() as server:
        yield server


@pytest.fixture
def configured(settings, gateway):
    channels = {ch: {"url": gateway.url, "token": f"tok-{ch}"} for ch in ("sms", "chat", "social")}
    settings.CPM_GATEWAYS = {"channels": channels, "timeout": 1.0}
    return gateway


@pytest.fixture
def case():
    customer = CustomerFactory(consent_service=True, language=Language.ENGLISH, name="Kim Lee")
    ContactPointFactory(customer=customer, value="0151 1234567", normalised="+491511234567")
    ContactPointFactory(
        customer=customer,
        kind=ContactKind.MESSENGER,
        network="whatsapp",
        value="+49 151 1234567",
        normalised="whatsapp:+491511234567",
    )
    ContactPointFactory(
        customer=customer,
        kind=ContactKind.SOCIAL,
        network="instagram",
        value="@kim.lee",
        normalised="instagram:kim.lee",
    )
    return CaseFactory(customer=customer, state=CaseState.OPEN)


def sms(case, key: str = "notice-1") -> OutboundMessage:
    """An SMS in the outbox, not held by the quiet hours (they are tested in test_outbox)."""
    return OutboundMessage.objects.create(
        idempotency_key=key,
        customer=case.customer,
        case=case,
        channel="sms",
        recipient="+491511234567",
        subject="",
        body="Your case is resolved.",
    )


def test_chat_and_social_are_offered_only_with_a_gateway(case, settings, gateway) -> None:
    settings.CPM_GATEWAYS = {"channels": {}, "timeout": 1.0}
    assert [c.channel for c in reply_channels(case)] == ["sms"]
    settings.CPM_GATEWAYS = {"channels": {"chat": {"url": gateway.url, "token": ""}}, "timeout": 1}
    offered = {c.channel: c.recipient for c in reply_channels(case)}
    assert offered == {"sms": "+491511234567", "chat": "whatsapp:+491511234567"}


def test_a_reply_by_chat_is_posted_once_with_token_and_idempotency_key(
    case, agent, configured
) -> None:
    message = reply_send(
        case=case, by=agent, channel="chat", subject="", body="Hello <b>Kim</b>", token=TOKEN
    )
    outbound_deliver(pk=message.pk)
    outbound_deliver(pk=message.pk)  # a retried task: nothing more is sent
    assert len(configured.requests) == 1
    request = configured.requests[0]
    assert request["headers"]["Authorization"] == "Bearer tok-chat"
    assert request["headers"]["Idempotency-Key"] == f"reply-{case.pk}-{TOKEN}"
    assert request["headers"]["Content-Type"] == "application/json"
    assert json.loads(request["body"]) == {
        "id": f"reply-{case.pk}-{TOKEN}",
        "channel": "chat",
        "to": "+491511234567",
        "network": "whatsapp",
        "subject": "",
        "text": "Hello <b>Kim</b>",
    }
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboundStatus.SENT, 1)


def test_a_social_reply_names_the_network_and_the_handle(case, agent, configured) -> None:
    message = reply_send(case=case, by=agent, channel="social", subject="", body="Hi", token=TOKEN)
    outbound_deliver(pk=message.pk)
    sent = json.loads(configured.requests[0]["body"])
    assert (sent["to"], sent["network"], sent["channel"]) == ("kim.lee", "instagram", "social")
    assert configured.requests[0]["headers"]["Authorization"] == "Bearer tok-social"


def test_a_server_error_is_retried_and_the_retry_succeeds(
    case, configured, django_capture_on_commit_callbacks
) -> None:
    configured.script = ["500"]
    message = sms(case)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        outbound_deliver(pk=message.pk)
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboundStatus.QUEUED, 1)
    assert message.last_error.startswith("GatewayUnavailable: HTTP 500")
    assert len(callbacks) == 1  # the retry is scheduled
    outbound_deliver(pk=message.pk)
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboundStatus.SENT, 2)
    keys = {r["headers"]["Idempotency-Key"] for r in configured.requests}
    assert (len(configured.requests), keys) == (2, {"notice-1"})
    assert list(configured.messages) == ["notice-1"]
    interaction = Interaction.objects.get(direction=Direction.OUTBOUND)
    assert (interaction.channel, interaction.case_reference) == ("sms", case.reference)


@pytest.mark.parametrize("status", ["400", "401", "404", "422"])
def test_a_refusal_goes_to_the_exception_queue_at_once(case, configured, status) -> None:
    configured.script = [status]
    message = sms(case)
    outbound_deliver(pk=message.pk)
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboundStatus.FAILED, 1)
    item = ExceptionItem.objects.get(source="outbox")
    assert item.case == case
    assert f"HTTP {status}" in item.reason
    outbound_deliver(pk=message.pk)
    assert len(configured.requests) == 1
    assert not Interaction.objects.filter(direction=Direction.OUTBOUND).exists()


@pytest.mark.parametrize("status", ["409", "429", "503"])
def test_busy_or_unavailable_gateways_are_retried(case, configured, status) -> None:
    configured.script = [status]
    message = sms(case)
    outbound_deliver(pk=message.pk)
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboundStatus.QUEUED, 1)
    assert not ExceptionItem.objects.exists()


def test_a_gateway_slower_than_the_timeout_is_retried(case, configured, settings) -> None:
    settings.CPM_GATEWAYS = {**settings.CPM_GATEWAYS, "timeout": 0.3}
    configured.script = ["sleep:1.5"]
    message = sms(case)
    outbound_deliver(pk=message.pk)
    message.refresh_from_db()
    assert message.status == OutboundStatus.QUEUED
    assert "timeout" in message.last_error


def test_an_answer_that_is_not_http_is_retried_then_given_up(case, configured) -> None:
    configured.default = "garbage"
    message = sms(case)
    for _attempt in range(MAX_ATTEMPTS):
        outbound_deliver(pk=message.pk)
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboundStatus.FAILED, MAX_ATTEMPTS)
    assert ExceptionItem.objects.filter(source="outbox").count() == 1
    assert len(configured.requests) == MAX_ATTEMPTS


def test_a_2xx_with_a_garbage_body_is_accepted(case, settings) -> None:
    """Only the status counts; the body of a 2xx is not read."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def answer() -> None:
        connection, _address = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n\xff\x00{[<?\x01")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}/"
    settings.CPM_GATEWAYS = {"channels": {"sms": {"url": url, "token": ""}}, "timeout": 2.0}
    message = sms(case)
    outbound_deliver(pk=message.pk)
    thread.join(5)
    listener.close()
    message.refresh_from_db()
    assert message.status == OutboundStatus.SENT


def test_no_gateway_listening_is_retried(case, settings) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # closed again: nothing listens there
    url = f"http://127.0.0.1:{port}/"
    settings.CPM_GATEWAYS = {"channels": {"sms": {"url": url, "token": ""}}, "timeout": 1.0}
    message = sms(case)
    outbound_deliver(pk=message.pk)
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboundStatus.QUEUED, 1)
    assert "ConnectError" in message.last_error


def test_without_a_gateway_sms_uses_the_log_backend(case, settings) -> None:
    settings.CPM_GATEWAYS = {"channels": {}, "timeout": 1.0}
    message = sms(case)
    outbound_deliver(pk=message.pk)
    message.refresh_from_db()
    assert message.status == OutboundStatus.SENT
