"""Moving an inbound message to another case of the customer or into a new case, and undo."""

from __future__ import annotations

import itertools

import pytest
from django.urls import reverse

from cases.models import (
    Case,
    CaseEvent,
    CaseEventKind,
    CaseState,
    InboundMessage,
    InboundStatus,
    MessageMove,
)
from customers.models import Interaction
from tests.factories import CaseFactory, InteractionFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
IDS = itertools.count(1)


def inbound(case: Case, subject: str = "Zähler kaputt") -> InboundMessage:
    interaction = InteractionFactory(
        customer=case.customer, subject=subject, case_reference=case.reference
    )
    return InboundMessage.objects.create(
        channel="email",
        external_id=f"<move-{next(IDS)}@example.de>",
        payload={"from": "kim@example.de", "subject": subject},
        status=InboundStatus.PROCESSED,
        customer=case.customer,
        case=case,
        interaction=interaction,
        reason="open_case",
        reason_params={"type_en": "General inquiry", "days": 1},
    )


def move(client, case: Case, message: InboundMessage, **data):
    url = reverse("cases:inbound-move", args=[case.reference, message.pk])
    return client.post(url, data, **HTMX)


def undo(client, case: Case, move_pk: int):
    return client.post(reverse("cases:inbound-move-undo", args=[case.reference, move_pk]), **HTMX)


def filed_under(message: InboundMessage) -> tuple[str, str]:
    message.refresh_from_db()
    reference = Interaction.objects.get(pk=message.interaction_id).case_reference
    return message.case.reference, reference


def moved_events(case: Case) -> list[str]:
    kinds = [CaseEventKind.MOVED_IN, CaseEventKind.MOVED_OUT]
    return list(case.events.filter(kind__in=kinds).values_list("kind", flat=True))


@pytest.fixture
def cases():
    source = CaseFactory(state=CaseState.OPEN)
    return source, CaseFactory(customer=source.customer, state=CaseState.OPEN)


def test_a_message_moves_to_another_case_of_the_customer_with_an_event_on_both(
    agent_client, cases
) -> None:
    source, target = cases
    message = inbound(source)
    response = move(agent_client, source, message, reference=target.reference.lower())
    assert response.status_code == 200
    assert "case:changed" in response["HX-Trigger"]
    assert filed_under(message) == (target.reference, target.reference)
    assert moved_events(source) == [CaseEventKind.MOVED_OUT]
    assert moved_events(target) == [CaseEventKind.MOVED_IN]
    assert target.reference in source.events.get(kind=CaseEventKind.MOVED_OUT).reason
    assert f"inbound-{message.pk}" not in response.content.decode()  # gone from the source


def test_the_target_case_shows_who_moved_it_from_where_with_undo(agent_client, cases) -> None:
    source, target = cases
    message = inbound(source)
    move(agent_client, source, message, reference=target.reference)
    html = agent_client.get(target.get_absolute_url()).content.decode()
    assert f"Moved here by agent from {source.reference}" in html
    message.refresh_from_db()
    assert reverse("cases:inbound-move-undo", args=[target.reference, message.last_move_id]) in html


def test_undo_puts_back_exactly_that_message(agent_client, cases) -> None:
    source, target = cases
    message, other = inbound(source), inbound(target, subject="Stays")
    move(agent_client, source, message, reference=target.reference)
    moved = MessageMove.objects.get()
    response = undo(agent_client, target, moved.pk)
    assert response.status_code == 200
    assert filed_under(message) == (source.reference, source.reference)
    assert filed_under(other) == (target.reference, target.reference)
    assert message.last_move is None
    moved.refresh_from_db()
    assert moved.undone_at is not None
    assert moved_events(source) == [CaseEventKind.MOVED_OUT, CaseEventKind.MOVED_IN]


def test_undo_works_from_the_source_cases_banner_too(agent_client, cases) -> None:
    source, target = cases
    message = inbound(source)
    response = move(agent_client, source, message, reference=target.reference)
    moved = MessageMove.objects.get()
    assert reverse("cases:inbound-move-undo", args=[source.reference, moved.pk]) in (
        response.content.decode()
    )
    assert undo(agent_client, source, moved.pk).status_code == 200
    assert filed_under(message)[0] == source.reference


def test_a_message_moves_out_into_a_new_case_of_the_same_customer(agent, agent_client, cases):
    source, _ = cases
    message = inbound(source, subject="Second matter")
    assert move(agent_client, source, message, new="1").status_code == 200
    message.refresh_from_db()
    new = message.case
    assert new.pk not in (source.pk, cases[1].pk)
    assert (new.customer_id, new.subject) == (source.customer_id, "Second matter")
    assert MessageMove.objects.get().new_case
    assert CaseEvent.objects.filter(case=new, kind=CaseEventKind.CREATED, by=agent).exists()


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ("other-customer", "belongs to another customer"),
        ("closed", "choose an open case"),
        ("cancelled", "choose an open case"),
        ("same", "already on case"),
        ("C-1999-000001", "There is no case"),
        ("", "Give the reference"),
    ],
)
def test_a_refused_move_says_why_and_changes_nothing(agent_client, cases, target, says) -> None:
    source, _ = cases
    message = inbound(source)
    references = {
        "other-customer": CaseFactory(state=CaseState.OPEN).reference,
        "closed": CaseFactory(customer=source.customer, state=CaseState.CLOSED).reference,
        "cancelled": CaseFactory(customer=source.customer, state=CaseState.CANCELLED).reference,
        "same": source.reference,
    }
    response = move(agent_client, source, message, reference=references.get(target, target))
    assert response.status_code == 400
    assert says in response.content.decode()
    assert filed_under(message) == (source.reference, source.reference)
    assert not MessageMove.objects.exists()
    assert not CaseEvent.objects.filter(kind__in=["moved_in", "moved_out"]).exists()


def test_a_message_of_another_case_is_a_404(agent_client, cases) -> None:
    source, target = cases
    message = inbound(target)
    assert move(agent_client, source, message, new="1").status_code == 404


def test_undo_twice_or_after_a_later_move_is_refused(agent_client, cases) -> None:
    source, target = cases
    third = CaseFactory(customer=source.customer, state=CaseState.OPEN)
    message = inbound(source)
    move(agent_client, source, message, reference=target.reference)
    first = MessageMove.objects.get()
    move(agent_client, target, message, reference=third.reference)
    response = undo(agent_client, target, first.pk)
    assert response.status_code == 409
    assert filed_under(message)[0] == third.reference
    second = MessageMove.objects.exclude(pk=first.pk).get()
    assert undo(agent_client, third, second.pk).status_code == 200
    message.refresh_from_db()
    assert message.last_move_id == first.pk  # back on target: "moved here from source" again
    assert undo(agent_client, third, second.pk).status_code == 409
    assert undo(agent_client, target, first.pk).status_code == 200
    assert filed_under(message)[0] == source.reference


def test_an_unrelated_case_cannot_undo_a_move(agent_client, cases) -> None:
    source, target = cases
    move(agent_client, source, inbound(source), reference=target.reference)
    stranger = CaseFactory(state=CaseState.OPEN)
    assert undo(agent_client, stranger, MessageMove.objects.get().pk).status_code == 404


def test_the_messages_fragment_escapes_customer_text(agent_client, cases) -> None:
    source, _ = cases
    inbound(source, subject="<script>alert(1)</script>")
    html = agent_client.get(reverse("cases:case-messages", args=[source.reference])).content
    assert b"<script>alert(1)</script>" not in html
    assert b"&lt;script&gt;" in html
