"""Editing master data in place: htmx fragments, specific messages, the change in the timeline."""

from __future__ import annotations

import pytest
from django.urls import reverse

from customers.models import ContactKind, ContactPoint, CustomerChange, PaymentMethod
from customers.services import contact_point_add
from tests.factories import CaseFactory, CustomerFactory, HoldingFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def customer(db):
    return CustomerFactory(name="Anna Müller")


def test_cockpit_shows_master_data_and_loads_the_cases_panel(agent_client, customer, agent):
    contact_point_add(customer=customer, kind=ContactKind.EMAIL, value="anna@example.de", by=agent)
    HoldingFactory(customer=customer, product="DSL 250", contract_number="V-1")
    body = agent_client.get(customer.get_absolute_url()).content.decode()
    assert f'id="customer-{customer.pk}-contacts"' in body
    assert "anna@example.de" in body
    assert "DSL 250" in body and "Bank transfer" in body
    assert 'data-flag="transfer"' in body
    assert reverse("cases:customer-cases", args=[customer.pk]) in body
    assert f'id="customer-{customer.pk}-timeline"' in body


def test_the_cases_panel_lists_only_open_cases(agent_client, customer):
    from cases.models import CaseState

    open_case = CaseFactory(customer=customer, state=CaseState.OPEN, subject="Umzug")
    closed = CaseFactory(customer=customer, state=CaseState.CLOSED, subject="Alt")
    response = agent_client.get(reverse("cases:customer-cases", args=[customer.pk]), **HTMX)
    body = response.content.decode()
    assert f'id="customer-{customer.pk}-cases"' in body
    assert open_case.reference in body and closed.reference not in body


def test_customer_text_is_escaped(agent_client, agent):
    customer = CustomerFactory(name="<script>alert(1)</script>")
    contact_point_add(
        customer=customer, kind=ContactKind.SOCIAL, value="<b>x</b>", network="x", by=agent
    )
    body = agent_client.get(customer.get_absolute_url()).content.decode()
    assert "<script>alert(1)" not in body and "<b>x</b>" not in body
    assert "&lt;script&gt;" in body


def test_adding_an_email_in_place_answers_the_panel_and_tells_the_timeline(agent_client, customer):
    url = reverse("customers:contact-point-save", args=[customer.pk])
    response = agent_client.post(url, {"kind": "email", "value": "Anna@Example.de"}, **HTMX)
    assert response.status_code == 200
    assert f'id="customer-{customer.pk}-contacts"' in response.content.decode()
    assert "customer:changed" in response["HX-Trigger"]
    timeline = agent_client.get(reverse("customers:customer-timeline", args=[customer.pk]))
    assert "Anna@Example.de" in timeline.content.decode()
    assert "Data change" in timeline.content.decode()


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("phone", "12345", "not a valid phone number"),
        ("email", "anna@", "not a valid e-mail address"),
        ("social", "@anna", "Give the network"),
    ],
)
def test_an_invalid_contact_value_says_what_is_wrong_and_changes_nothing(
    agent_client, customer, kind, value, message
):
    url = reverse("customers:contact-point-save", args=[customer.pk])
    response = agent_client.post(url, {"kind": kind, "value": value}, **HTMX)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert f'value="{value}"' in response.content.decode()  # what was typed stays
    assert not ContactPoint.objects.exists()


def test_editing_a_contact_keeps_its_kind(agent_client, customer, agent):
    contact = contact_point_add(
        customer=customer, kind=ContactKind.EMAIL, value="old@example.de", by=agent
    )
    url = reverse("customers:contact-points", args=[customer.pk])
    form = agent_client.get(url, {"edit": contact.pk}, **HTMX).content.decode()
    assert 'value="old@example.de"' in form
    save = reverse("customers:contact-point-save", args=[customer.pk]) + f"?edit={contact.pk}"
    response = agent_client.post(save, {"kind": "phone", "value": "new@example.de"}, **HTMX)
    assert response.status_code == 200
    contact.refresh_from_db()
    assert (contact.kind, contact.normalised) == ("email", "new@example.de")


def test_removing_a_contact_keeps_it_for_the_history(agent_client, customer, agent):
    contact = contact_point_add(
        customer=customer, kind=ContactKind.PHONE, value="030 1234567", by=agent
    )
    url = reverse("customers:contact-point-remove", args=[customer.pk, contact.pk])
    response = agent_client.post(url, **HTMX)
    assert "030 1234567" not in response.content.decode()
    contact.refresh_from_db()
    assert not contact.active
    assert CustomerChange.objects.filter(old="030 1234567", new="").exists()


def test_an_address_with_a_bad_postal_code_is_refused_with_the_reason(agent_client, customer):
    url = reverse("customers:address-save", args=[customer.pk])
    data = {"street": "Hauptstr. 5", "postal_code": "1011", "city": "Berlin", "country": "DE"}
    response = agent_client.post(url, data, **HTMX)
    assert response.status_code == 400
    assert "five digits" in response.content.decode()
    data["postal_code"] = "10115"
    response = agent_client.post(url, data, **HTMX)
    assert response.status_code == 200
    assert "10115 Berlin" in response.content.decode()


def test_switching_to_direct_debit_needs_a_valid_iban(agent_client, customer):
    holding = HoldingFactory(customer=customer)
    url = reverse("customers:holding-payment-save", args=[customer.pk])
    data = {"holding": holding.pk, "payment_method": PaymentMethod.DIRECT_DEBIT, "iban": ""}
    response = agent_client.post(url, data, **HTMX)
    assert response.status_code == 400
    assert "needs the customer" in response.content.decode()
    data["iban"] = "DE89 3704 0044 0532 0130 01"
    assert "check digits" in agent_client.post(url, data, **HTMX).content.decode()
    data["iban"] = "DE89 3704 0044 0532 0130 00"
    response = agent_client.post(url, data, **HTMX)
    assert response.status_code == 200
    holding.refresh_from_db()
    assert holding.payment_method == PaymentMethod.DIRECT_DEBIT
    assert "DE89 … 3000" in response.content.decode()
    timeline = agent_client.get(reverse("customers:customer-timeline", args=[customer.pk]))
    assert holding.contract_number in timeline.content.decode()
    assert "DE89 … 3000" in timeline.content.decode()
    assert "DE89370400440532013000" not in timeline.content.decode()


def test_another_customers_holding_cannot_be_changed(agent_client, customer):
    other = HoldingFactory()
    url = reverse("customers:holding-payment-save", args=[customer.pk])
    data = {"holding": other.pk, "payment_method": PaymentMethod.INVOICE, "iban": ""}
    assert agent_client.post(url, data, **HTMX).status_code == 404


def test_without_htmx_a_change_redirects_back_to_the_cockpit(agent_client, customer):
    url = reverse("customers:contact-point-save", args=[customer.pk])
    response = agent_client.post(url, {"kind": "mobile", "value": "0151 23456789"})
    assert response.status_code == 302
    assert response["Location"] == customer.get_absolute_url()


def test_a_handle_is_edited_with_its_network(agent_client, customer, agent):
    contact = contact_point_add(
        customer=customer, kind=ContactKind.SOCIAL, value="@anna", network="instagram", by=agent
    )
    url = reverse("customers:contact-point-save", args=[customer.pk]) + f"?edit={contact.pk}"
    data = {"value": "@Anna.M", "network": "Mastodon"}
    assert agent_client.post(url, data, **HTMX).status_code == 200
    contact.refresh_from_db()
    assert contact.normalised == "mastodon:anna.m"


def test_the_admin_shows_a_customer_with_its_master_data_read_only(admin_client, customer, agent):
    from django.contrib.auth.models import User

    User.objects.filter(username="admin").update(is_superuser=True)  # as the demo admin is
    contact_point_add(customer=customer, kind=ContactKind.EMAIL, value="a@example.de", by=agent)
    HoldingFactory(customer=customer)
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    response = admin_client.get(url)
    assert response.status_code == 200
    assert "a@example.de" in response.content.decode()
    assert admin_client.get(reverse("admin:customers_customerchange_changelist")).status_code == 200
