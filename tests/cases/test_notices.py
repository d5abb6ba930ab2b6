"""The status notifications in memory: a change takes effect at once in this process."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from cases import notices
from cases.models import CaseState, CaseType, OutboundMessage, StatusNotice, TransitionInput
from cases.services import case_transition
from customers.models import Channel, ContactKind
from tests.factories import CaseFactory, ContactPointFactory, CustomerFactory, InteractionFactory

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)


@pytest.fixture
def customer():
    customer = CustomerFactory(consent_service=True)
    ContactPointFactory(customer=customer, kind=ContactKind.EMAIL, normalised="kim@example.de")
    return customer


def third_party(case, agent):
    return case_transition(case=case, name="wait_for_third_party", by=agent)


def visible(state: str, case_type_id: int | None = None) -> bool:
    return notices.notice_visible(case_type_id=case_type_id, state=state)


def test_the_configuration_is_read_once(django_assert_num_queries) -> None:
    with django_assert_num_queries(1):
        assert visible(CaseState.WAITING_CUSTOMER)
    with django_assert_num_queries(0):
        assert visible(CaseState.WAITING_CUSTOMER)
        assert not visible(CaseState.WAITING_THIRD_PARTY)


def test_a_new_status_notice_takes_effect_at_once(customer, agent) -> None:
    third_party(CaseFactory(customer=customer, state=CaseState.OPEN), agent)
    assert not OutboundMessage.objects.exists()  # and the configuration is in memory now
    StatusNotice.objects.create(state=CaseState.WAITING_THIRD_PARTY)
    third_party(CaseFactory(customer=customer, state=CaseState.OPEN), agent)
    assert OutboundMessage.objects.count() == 1


def test_a_deleted_or_changed_status_notice_takes_effect_at_once(customer, agent) -> None:
    assert visible(CaseState.ESCALATED)
    StatusNotice.objects.get(state=CaseState.ESCALATED, case_type=None).delete()
    assert not visible(CaseState.ESCALATED)
    billing = CaseType.objects.create(name_en="Billing", name_de="Rechnung")
    notice = StatusNotice.objects.get(state=CaseState.WAITING_CUSTOMER, case_type=None)
    notice.case_type = billing
    notice.save()
    case_transition(
        case=CaseFactory(customer=customer, state=CaseState.OPEN),
        name="wait_for_customer",
        by=agent,
        data=TransitionInput(),
    )
    assert not OutboundMessage.objects.exists()
    assert visible(CaseState.WAITING_CUSTOMER, billing.pk)


def test_deleting_a_case_type_drops_its_notices(customer) -> None:
    billing = CaseType.objects.create(name_en="Billing", name_de="Rechnung")
    StatusNotice.objects.create(case_type=billing, state=CaseState.WAITING_THIRD_PARTY)
    assert visible(CaseState.WAITING_THIRD_PARTY, billing.pk)
    pk = billing.pk
    billing.delete()  # cascades to the notice, which sends its signal
    assert not visible(CaseState.WAITING_THIRD_PARTY, pk)


def test_a_rolled_back_change_is_not_remembered(django_assert_num_queries) -> None:
    assert not visible(CaseState.WAITING_THIRD_PARTY)
    with pytest.raises(RuntimeError), transaction.atomic():
        StatusNotice.objects.create(state=CaseState.WAITING_THIRD_PARTY)
        assert visible(CaseState.WAITING_THIRD_PARTY)  # read, not kept: not committed
        assert visible(CaseState.WAITING_THIRD_PARTY)
        raise RuntimeError("roll back")
    assert not visible(CaseState.WAITING_THIRD_PARTY)
    with django_assert_num_queries(0):
        assert not visible(CaseState.WAITING_THIRD_PARTY)


def test_a_committed_change_drops_the_copy_again(django_capture_on_commit_callbacks) -> None:
    """A transition beside the admin's transaction may have read the old configuration
    between the save and the commit: the commit drops it once more."""
    with django_capture_on_commit_callbacks(execute=True):
        StatusNotice.objects.create(state=CaseState.WAITING_THIRD_PARTY)
        notices.NOTICES.keep(frozenset())  # what another thread read meanwhile
    assert visible(CaseState.WAITING_THIRD_PARTY)


def test_a_change_without_signal_shows_after_the_time_to_live(monkeypatch) -> None:
    assert visible(CaseState.ESCALATED)
    StatusNotice.objects.filter(state=CaseState.ESCALATED).update(state=CaseState.CLOSED)
    assert visible(CaseState.ESCALATED)  # QuerySet.update sends no signal
    monkeypatch.setattr(notices.NOTICES, "ttl", 0)
    assert not visible(CaseState.ESCALATED)


def test_the_notice_goes_out_on_the_channel_the_customer_used_last(customer, agent) -> None:
    ContactPointFactory(customer=customer, normalised="+4915100000009")
    now = timezone.now()
    InteractionFactory(customer=customer, channel=Channel.SMS, occurred_at=now)
    InteractionFactory(customer=customer, channel=Channel.EMAIL, occurred_at=now - HOUR)
    case_transition(
        case=CaseFactory(customer=customer, state=CaseState.OPEN),
        name="wait_for_customer",
        by=agent,
    )
    message = OutboundMessage.objects.get()
    assert (message.channel, message.recipient) == ("sms", "+4915100000009")


def test_a_customer_visible_transition_costs_eight_statements(
    customer, agent, django_assert_num_queries
) -> None:
    """The update, its history row, the event, the address, the notice, its delivery task,
    and the savepoint pair of `case_transition`'s atomic block inside the test's
    transaction: no look-up of the configuration, no SELECT before the notice's INSERT."""
    visible(CaseState.WAITING_CUSTOMER)
    case = CaseFactory(customer=customer, state=CaseState.OPEN)
    agent.has_perm("cases.change_case")
    with django_assert_num_queries(8):
        case_transition(case=case, name="wait_for_customer", by=agent)
    assert OutboundMessage.objects.count() == 1
