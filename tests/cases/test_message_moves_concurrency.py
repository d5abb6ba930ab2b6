"""Two agents move the same message at once, and a reply is double-sent (PostgreSQL)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from cases.models import CaseState, InboundMessage, InboundStatus, MessageMove, OutboundMessage
from cases.moves import message_move
from cases.replies import reply_send
from cases.services import CaseActionError
from customers.models import ContactKind
from tests.factories import CaseFactory, ContactPointFactory, CustomerFactory, InteractionFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_at_once(work, count: int) -> list[str]:
    def attempt(n: int) -> str:
        try:
            work(n)
            return "ok"
        except CaseActionError as error:
            return f"refused {error.status}"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return sorted(pool.map(attempt, range(count)))


def test_ten_agents_moving_one_message_end_with_one_move(agent) -> None:
    source = CaseFactory(state=CaseState.OPEN)
    targets = [CaseFactory(customer=source.customer, state=CaseState.OPEN) for _ in range(10)]
    interaction = InteractionFactory(customer=source.customer, case_reference=source.reference)
    message = InboundMessage.objects.create(
        channel="email",
        external_id="<race@example.de>",
        payload={},
        status=InboundStatus.PROCESSED,
        customer=source.customer,
        case=source,
        interaction=interaction,
    )

    def move(n: int) -> None:
        message_move(message=message, case=source, by=agent, reference=targets[n].reference)

    assert run_at_once(move, 10) == ["ok"] + ["refused 409"] * 9
    move_row = MessageMove.objects.get()
    message.refresh_from_db()
    interaction.refresh_from_db()
    assert message.case_id == move_row.to_case_id
    assert interaction.case_reference == move_row.to_case.reference


def test_a_reply_sent_ten_times_at_once_is_one_message(agent) -> None:
    customer = CustomerFactory(consent_service=True)
    ContactPointFactory(customer=customer, kind=ContactKind.EMAIL, normalised="kim@example.de")
    case = CaseFactory(customer=customer, state=CaseState.OPEN)

    def send(_n: int) -> None:
        reply_send(case=case, by=agent, channel="email", subject="", body="Hi", token="a" * 32)

    assert run_at_once(send, 10) == ["ok"] * 10
    assert OutboundMessage.objects.count() == 1
    assert case.events.filter(kind="reply").count() == 1
