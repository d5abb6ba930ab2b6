"""The billing panel and its connectors; the HTTP one against a real local HTTP server."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from customers.connectors import BackOfficeUnavailable
from customers.connectors.http import HttpConnector
from customers.models import PaymentMethod
from tests.factories import CustomerFactory, HoldingFactory

BILLING = {
    "currency": "EUR",
    "open_balance": "42.50",
    "payment_method": "direct_debit",
    "invoices": [
        {
            "number": "R-1001",
            "issued_on": "2026-10-01",
            "due_on": "2026-10-15",
            "amount": "42.50",
            "open_amount": "42.50",
        }
    ],
}
ORDERS = {
    "orders": [
        {
            "number": "A-9",
            "ordered_on": "2026-01-02",
            "item": "Router",
            "status": "shipped",
            "total": 99,
        }
    ]
}
CONTRACTS = {"contracts": []}


def connector(server: HTTPServer, **options: object) -> HttpConnector:
    settings = {"timeout": 0.5, "cache_seconds": 60, "breaker_failures": 2, "breaker_seconds": 30}
    return HttpConnector(url=server.url_for("/api"), token="t0ken", **{**settings, **options})


def serve_all(server: HTTPServer, number: str) -> None:
    for what, body in (("billing", BILLING), ("orders", ORDERS), ("contracts", CONTRACTS)):
        server.expect_request(
            f"/api/customers/{number}/{what}", headers={"Authorization": "Bearer t0ken"}
        ).respond_with_json(body)


def test_http_connector_reads_billing_orders_and_contracts(httpserver: HTTPServer) -> None:
    serve_all(httpserver, "K-1")
    back_office = connector(httpserver)
    billing = back_office.billing(customer_number="K-1")
    assert billing is not None
    assert billing.open_balance == Decimal("42.50")
    assert billing.invoices[0].number == "R-1001"
    assert back_office.orders(customer_number="K-1")[0].total == Decimal("99.00")
    assert back_office.contracts(customer_number="K-1") == []


def test_http_connector_caches_answers(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/api/customers/K-1/billing").respond_with_json(BILLING)
    back_office = connector(httpserver)
    first = back_office.billing(customer_number="K-1")
    assert back_office.billing(customer_number="K-1") == first  # the server answers once only
    assert len(httpserver.log) == 1


def test_http_connector_treats_unknown_customer_as_no_data(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/customers/K-2/billing").respond_with_data("", status=404)
    assert connector(httpserver).billing(customer_number="K-2") is None


RELEASE = threading.Event()


@pytest.fixture(autouse=True)
def _release_slow_answers():
    """The test server answers one request at a time: a slow answer still pending when a
    test ends is let go at once, or it would hold up the next test's requests."""
    RELEASE.clear()
    yield
    RELEASE.set()


def slow(request: Request) -> Response:
    RELEASE.wait(1.0)  # longer than any connector timeout here
    return Response(json.dumps(BILLING), content_type="application/json")


def test_http_connector_gives_up_after_the_timeout(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/customers/K-1/billing").respond_with_handler(slow)
    started = time.monotonic()
    with pytest.raises(BackOfficeUnavailable):
        connector(httpserver, timeout=0.2).billing(customer_number="K-1")
    assert time.monotonic() - started < 0.9


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("Internal Server Error", 500),
        ("<html>maintenance</html>", 200),
        ('{"open_balance": "a lot", "invoices": []}', 200),
        ('{"open_balance": "1.00", "invoices": {"number": 1}}', 200),
        ("[1, 2, 3]", 200),
    ],
    ids=["500", "html", "bad-amount", "bad-shape", "list"],
)
def test_http_connector_refuses_errors_and_garbage(
    httpserver: HTTPServer, body: str, status: int
) -> None:
    httpserver.expect_request("/api/customers/K-1/billing").respond_with_data(
        body, status=status, content_type="application/json"
    )
    with pytest.raises(BackOfficeUnavailable):
        connector(httpserver).billing(customer_number="K-1")


def test_circuit_opens_after_failures_and_stops_asking(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/customers/K-1/billing").respond_with_data("", status=503)
    back_office = connector(httpserver, breaker_failures=2, breaker_seconds=30)
    for _ in range(2):
        with pytest.raises(BackOfficeUnavailable):
            back_office.billing(customer_number="K-1")
    assert back_office.circuit_open
    with pytest.raises(BackOfficeUnavailable, match="circuit open"):
        back_office.billing(customer_number="K-1")
    assert len(httpserver.log) == 2  # the third call never reached the server


def test_circuit_lets_one_call_through_after_the_pause(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/api/customers/K-1/billing").respond_with_data(
        "", status=500
    )
    httpserver.expect_ordered_request("/api/customers/K-1/billing").respond_with_json(BILLING)
    back_office = connector(httpserver, breaker_failures=1, breaker_seconds=0)
    with pytest.raises(BackOfficeUnavailable):
        back_office.billing(customer_number="K-1")
    assert back_office.billing(customer_number="K-1") is not None
    assert not back_office.circuit_open


@pytest.mark.django_db
def test_billing_panel_shows_the_back_office(
    agent_client: Client, http_back_office: HTTPServer
) -> None:
    customer = CustomerFactory(number="K-777001")
    serve_all(http_back_office, customer.number)
    response = agent_client.get(reverse("customers:billing", args=[customer.pk]))
    assert response.status_code == 200
    assert "42.50 EUR" in response.content.decode()
    assert "R-1001" in response.content.decode()


@pytest.mark.django_db
def test_billing_panel_says_unreachable_when_the_back_office_hangs(
    agent_client: Client, http_back_office: HTTPServer
) -> None:
    customer = CustomerFactory(number="K-777002")
    url = f"/api/customers/{customer.number}/billing"
    http_back_office.expect_request(url).respond_with_handler(slow)
    started = time.monotonic()
    response = agent_client.get(reverse("customers:billing", args=[customer.pk]))
    assert response.status_code == 200
    assert 'data-billing="unreachable"' in response.content.decode()
    assert time.monotonic() - started < 0.95
    # Down for good: after the breaker opens the panel answers without waiting at all.
    agent_client.get(reverse("customers:billing", args=[customer.pk]))
    started = time.monotonic()
    response = agent_client.get(reverse("customers:billing", args=[customer.pk]))
    assert 'data-billing="unreachable"' in response.content.decode()
    assert time.monotonic() - started < 0.1


@pytest.mark.django_db
def test_cockpit_renders_without_asking_the_back_office(
    agent_client: Client, http_back_office: HTTPServer
) -> None:
    customer = CustomerFactory()
    response = agent_client.get(customer.get_absolute_url())
    assert response.status_code == 200
    assert reverse("customers:billing", args=[customer.pk]) in response.content.decode()
    assert http_back_office.log == []


@pytest.mark.django_db
def test_local_connector_bills_the_holdings(agent_client: Client) -> None:
    customer = CustomerFactory()
    HoldingFactory(customer=customer, payment_method=PaymentMethod.INVOICE)
    response = agent_client.get(reverse("customers:billing", args=[customer.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "29.99" in html
    assert "Invoice" in html  # the payment method, by its label
