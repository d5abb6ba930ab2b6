"""Acknowledgements go out by e-mail to a real SMTP server (aiosmtpd, in a thread): a task
that delivers several e-mails uses one connection, and a failure never loses or doubles a
message."""

from __future__ import annotations

import pytest
from aiosmtpd.controller import Controller

from cases.models import OutboundMessage, OutboundStatus
from cases.tasks import deliver_outbound_many
from tests.conftest import free_port
from tests.factories import CaseFactory

pytestmark = pytest.mark.django_db


class Recorder:
    """An SMTP server's handler: keeps what it accepts and from which connection; refuses
    the messages whose text contains `refuse`."""

    def __init__(self) -> None:
        self.accepted: list[tuple[tuple, bytes]] = []
        self.refuse = "\x00"

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.refuse.encode() in envelope.content:
            return "554 5.7.1 refused for the test"
        self.accepted.append((session.peer, envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server(settings):
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    yield recorder
    controller.stop()


def queued_emails(count: int) -> list[OutboundMessage]:
    return [
        OutboundMessage.objects.create(
            idempotency_key=f"smtp-test-{n}",
            customer=(case := CaseFactory()).customer,
            case=case,
            channel="email",
            recipient=f"kunde{n}@example.de",
            subject=f"Ihr Vorgang {case.reference}",
            body=f"Nachricht {n}",
        )
        for n in range(count)
    ]


def test_a_task_sends_its_emails_over_one_connection(smtp_server: Recorder) -> None:
    messages = queued_emails(3)

    statuses = deliver_outbound_many([m.pk for m in messages])

    assert statuses == [OutboundStatus.SENT] * 3
    assert len(smtp_server.accepted) == 3
    assert len({peer for peer, _content in smtp_server.accepted}) == 1
    assert all(
        b"Nachricht %d" % n in content for n, (_peer, content) in enumerate(smtp_server.accepted)
    )


def test_after_a_refusal_the_next_email_goes_out_over_a_fresh_connection(
    smtp_server: Recorder,
) -> None:
    """The refused message stays queued for its retry (not lost); the others are sent once
    each (not doubled), the one after the refusal over a new connection."""
    messages = queued_emails(3)
    smtp_server.refuse = "Nachricht 1"

    statuses = deliver_outbound_many([m.pk for m in messages])

    assert statuses == [OutboundStatus.SENT, OutboundStatus.QUEUED, OutboundStatus.SENT]
    refused = OutboundMessage.objects.get(pk=messages[1].pk)
    assert refused.attempts == 1 and "refused for the test" in refused.last_error
    assert len(smtp_server.accepted) == 2
    assert len({peer for peer, _content in smtp_server.accepted}) == 2
    assert all(b"Nachricht 1" not in content for _peer, content in smtp_server.accepted)
