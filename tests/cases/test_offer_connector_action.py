"""An accepted offer's back-office action: done once through the connector after commit,
on the timeline when done, in the exception queue when the back office fails or refuses."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_q.conf import Conf
from pytest_httpserver import HTTPServer

from cases import offers, tasks
from cases.models import ExceptionItem, OfferOutcome
from customers.connectors import ConnectorAction
from customers.models import CustomerEvent, EventKind, Holding, HoldingStatus, PaymentMethod
from guidance.models import OfferResult
from tests.factories import CaseFactory, CustomerFactory, HoldingFactory, OfferFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def sync_tasks(monkeypatch) -> None:
    """django-q2 runs the task in-process (its config is read once, at import)."""
    monkeypatch.setattr(Conf, "SYNC", True)


def accept(client, customer, offer, **extra) -> None:
    response = client.post(
        reverse("cases:offer-outcome-save", args=[customer.pk]),
        {"offer": offer.pk, "result": OfferResult.ACCEPTED, **extra},
        **HTMX,
    )
    assert response.status_code == 200


@pytest.mark.django_db
def test_accepting_books_the_add_on_once_after_commit(
    agent_client, sync_tasks, django_capture_on_commit_callbacks
) -> None:
    customer = CustomerFactory(consent_marketing=True)
    offer = OfferFactory(
        name_en="TV add-on", product="TV Basic", connector_action=ConnectorAction.BOOK_ADDON
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        accept(agent_client, customer, offer)
    assert len(callbacks) == 1
    booked = Holding.objects.get(customer=customer)
    assert (booked.product, booked.status) == ("TV Basic", HoldingStatus.PENDING)
    outcome = OfferOutcome.objects.get(customer=customer, result=OfferResult.ACCEPTED)
    assert outcome.action_reference == booked.contract_number
    assert tasks.perform_offer_action(outcome.pk) == booked.contract_number  # a retry
    assert Holding.objects.filter(customer=customer).count() == 1
    done = CustomerEvent.objects.get(customer=customer, kind=EventKind.BACK_OFFICE_ACTION)
    assert done.subject == "TV add-on"
    assert booked.contract_number in done.detail
    assert not ExceptionItem.objects.exists()


@pytest.mark.django_db
def test_declining_or_presenting_does_nothing_in_the_back_office(
    agent_client, django_capture_on_commit_callbacks
) -> None:
    customer = CustomerFactory(consent_marketing=True)
    offer = OfferFactory(product="TV Basic", connector_action=ConnectorAction.BOOK_ADDON)
    url = reverse("cases:offer-outcome-save", args=[customer.pk])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        agent_client.post(url, {"offer": offer.pk, "result": OfferResult.PRESENTED}, **HTMX)
        agent_client.post(
            url, {"offer": offer.pk, "result": OfferResult.DECLINED, "reason": "price"}, **HTMX
        )
    assert callbacks == []


@pytest.mark.django_db
def test_a_refused_action_goes_to_the_exception_queue_with_the_reason(agent) -> None:
    case = CaseFactory()
    HoldingFactory(customer=case.customer, payment_method=PaymentMethod.BANK_TRANSFER)
    offer = OfferFactory(
        name_en="Direct debit",
        connector_action=ConnectorAction.UPDATE_PAYMENT_METHOD,
        connector_value=PaymentMethod.DIRECT_DEBIT,  # needs an IBAN: the back office refuses
    )
    outcome = OfferOutcome.objects.create(
        customer=case.customer, offer=offer, case=case, result=OfferResult.ACCEPTED, by=agent
    )
    assert offers.offer_action_perform(pk=outcome.pk) == ""
    item = ExceptionItem.objects.get(source=offers.ACTION_SOURCE)
    assert item.case == case
    assert case.customer.number in item.reason
    assert "Direct debit" in item.reason
    assert "needs more data" in item.reason
    outcome.refresh_from_db()
    assert outcome.action_reference == ""


@pytest.mark.django_db
def test_payment_method_change_goes_through_the_customers_services(agent) -> None:
    holding = HoldingFactory(payment_method=PaymentMethod.BANK_TRANSFER)
    offer = OfferFactory(
        connector_action=ConnectorAction.UPDATE_PAYMENT_METHOD,
        connector_value=PaymentMethod.INVOICE,
    )
    outcome = OfferOutcome.objects.create(
        customer=holding.customer, offer=offer, result=OfferResult.ACCEPTED, by=agent
    )
    assert offers.offer_action_perform(pk=outcome.pk).startswith("PM-")
    holding.refresh_from_db()
    assert holding.payment_method == PaymentMethod.INVOICE
    assert holding.customer.changes.filter(field="payment_method").exists()  # on the timeline


@pytest.mark.django_db
def test_http_back_office_gets_the_action_and_its_reference_is_kept(
    agent, http_back_office: HTTPServer
) -> None:
    customer = CustomerFactory(number="K-777001")
    offer = OfferFactory(product="TV Basic", connector_action=ConnectorAction.BOOK_ADDON)
    http_back_office.expect_request(
        "/api/customers/K-777001/actions/book_addon",
        method="POST",
        json={"value": "TV Basic"},
        headers={"Authorization": "Bearer t0ken"},
    ).respond_with_json({"reference": "ORD-42"})
    outcome = OfferOutcome.objects.create(
        customer=customer, offer=offer, result=OfferResult.ACCEPTED, by=agent
    )
    assert offers.offer_action_perform(pk=outcome.pk) == "ORD-42"
    outcome.refresh_from_db()
    assert outcome.action_reference == "ORD-42"


@pytest.mark.django_db
@pytest.mark.parametrize(("status", "why"), [(500, "not reachable"), (422, "refused: HTTP 422")])
def test_http_back_office_failure_goes_to_the_exception_queue(
    agent, http_back_office: HTTPServer, status: int, why: str
) -> None:
    customer = CustomerFactory(number="K-777002")
    offer = OfferFactory(product="TV Basic", connector_action=ConnectorAction.BOOK_ADDON)
    http_back_office.expect_request(
        "/api/customers/K-777002/actions/book_addon", method="POST"
    ).respond_with_data("no", status=status)
    outcome = OfferOutcome.objects.create(
        customer=customer, offer=offer, result=OfferResult.ACCEPTED, by=agent
    )
    assert offers.offer_action_perform(pk=outcome.pk) == ""
    assert why in ExceptionItem.objects.get(source=offers.ACTION_SOURCE).reason
    assert not CustomerEvent.objects.filter(kind=EventKind.BACK_OFFICE_ACTION).exists()


@pytest.mark.django_db
def test_a_connector_action_needs_its_value(admin_client) -> None:
    response = admin_client.post(
        reverse("cases:offer-create"),
        {
            "key": "pm",
            "kind": "service",
            "name_de": "Zahlart",
            "name_en": "Payment method",
            "value_weight": "1.00",
            "cooldown_days": "30",
            "cap_count": "3",
            "cap_days": "90",
            "control_percent": "0",
            "connector_action": ConnectorAction.UPDATE_PAYMENT_METHOD,
        },
    )
    assert response.status_code == 400
    assert "Name the add-on or the payment method." in response.content.decode()
