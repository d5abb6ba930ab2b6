"""A worker killed between the gateway's acceptance and our commit: exactly one message.

The delivery runs in a separate process against the same database. The test gateway
accepts the message and holds its answer; the test kills the worker with SIGKILL at that
moment, so the outbox row was never marked sent (its transaction dies with the process).
Delivery then runs again: the row is still queued, the message goes out again with the
same Idempotency-Key, the gateway drops the repeat, and the row ends sent. PostgreSQL
only: the worker needs to share the test database, and SQLite's test database lives in
this process's memory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from cases.models import CaseState, OutboundMessage, OutboundStatus
from cases.outbox import outbound_deliver
from cases.replies import reply_send
from customers.models import ContactKind, Direction, Interaction
from tests.cases.gateway_server import Gateway
from tests.factories import CaseFactory, ContactPointFactory, CustomerFactory

BASE = Path(__file__).resolve().parents[2]
WORKER = (
    "import sys, django; django.setup(); from cases.outbox import outbound_deliver; "
    "outbound_deliver(pk=int(sys.argv[1]))"
)


def database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_after_the_gateway_accepted_sends_exactly_one_message(
    settings, agent
) -> None:
    customer = CustomerFactory(consent_service=True)
    ContactPointFactory(
        customer=customer,
        kind=ContactKind.MESSENGER,
        network="whatsapp",
        normalised="whatsapp:+491511234567",
    )
    case = CaseFactory(customer=customer, state=CaseState.OPEN)
    with Gateway() as gateway:
        settings.CPM_GATEWAYS = {
            "channels": {"chat": {"url": gateway.url, "token": "tok"}},
            "timeout": 30.0,
        }
        message = reply_send(case=case, by=agent, channel="chat", subject="", body="Hi", token="")
        gateway.script = ["block"]
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "cpm.settings",
            "DATABASE_URL": database_url(),
            "CPM_GATEWAY_CHAT_URL": gateway.url,
            "CPM_GATEWAY_CHAT_TOKEN": "tok",
            "CPM_GATEWAY_TIMEOUT": "30",
        }
        worker = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(message.pk)], cwd=BASE, env=env
        )
        try:
            assert gateway.accepted.wait(60), "the worker never reached the gateway"
            assert worker.poll() is None
            os.kill(worker.pid, signal.SIGKILL)  # after the gateway accepted, before our commit
            worker.wait(10)
        finally:
            if worker.poll() is None:
                worker.kill()
        gateway.release.set()

        message.refresh_from_db()
        assert (message.status, message.attempts) == (OutboundStatus.QUEUED, 0)
        outbound_deliver(pk=message.pk)  # the task's retry, in a healthy worker

    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboundStatus.SENT, 1)
    keys = [r["headers"]["Idempotency-Key"] for r in gateway.requests]
    assert keys == [message.idempotency_key, message.idempotency_key]  # sent twice ...
    assert list(gateway.messages) == [message.idempotency_key]  # ... and delivered once
    assert OutboundMessage.objects.count() == 1
    assert Interaction.objects.filter(direction=Direction.OUTBOUND).count() == 1
