"""The top-bar search: exact identifiers jump, anything else searches names."""

from __future__ import annotations

import pytest
from django.urls import reverse

from customers import services
from customers.models import ContactKind, PaymentMethod
from customers.selectors import customer_search
from tests.factories import CaseFactory, CustomerFactory, HoldingFactory


@pytest.fixture
def anna(db, agent):
    customer = CustomerFactory(name="Anna Müller")
    services.contact_point_add(
        customer=customer, kind=ContactKind.MOBILE, value="0151 23456789", by=agent
    )
    services.contact_point_add(
        customer=customer, kind=ContactKind.EMAIL, value="Anna.Mueller@Example.de", by=agent
    )
    HoldingFactory(
        customer=customer,
        contract_number="V-4711",
        payment_method=PaymentMethod.DIRECT_DEBIT,
        iban="DE89370400440532013000",
    )
    return customer


@pytest.mark.parametrize(
    "query",
    [
        "+49 151 234 567 89",
        "0151/23456789",
        "(0151) 23456789",
        "anna.mueller@example.DE",
        "v-4711",
        "DE89 3704 0044 0532 0130 00",
    ],
)
def test_an_exact_identifier_jumps_to_the_customer(agent_client, anna, query: str) -> None:
    response = agent_client.get(reverse("search"), {"q": query})
    assert response.status_code == 302
    assert response["Location"] == anna.get_absolute_url()


def test_a_customer_number_jumps_in_any_case(agent_client, anna) -> None:
    response = agent_client.get(reverse("search"), {"q": anna.number.lower()})
    assert response["Location"] == anna.get_absolute_url()


def test_a_case_reference_jumps_to_the_case(agent_client, anna) -> None:
    case = CaseFactory(customer=anna)
    response = agent_client.get(reverse("search"), {"q": case.reference.lower()})
    assert response["Location"] == case.get_absolute_url()


def test_a_part_of_a_name_lists_the_customers(agent_client, anna) -> None:
    CustomerFactory(name="Bernd Müller")
    response = agent_client.get(reverse("search"), {"q": "Müller"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Anna Müller" in body and "Bernd Müller" in body


def test_an_unknown_number_or_garbage_finds_nothing_and_does_not_fail(agent_client, anna) -> None:
    for query in ["0151 99999999", "nobody@example.de", "DE00 0000", "a\x00b", "+"]:
        response = agent_client.get(reverse("search"), {"q": query})
        assert response.status_code == 200, query


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_misspelt_name_is_found_on_postgresql() -> None:
    anna = CustomerFactory(name="Anna Müller")
    CustomerFactory(name="Zacharias Brandt")
    assert customer_search(query="Ana Müler") == [anna]
    assert customer_search(query="Mueller Anna")[0] == anna


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_name_search_uses_the_trigram_index() -> None:
    from django.db import connection

    from customers.models import Customer

    CustomerFactory.create_batch(5)
    query = Customer.objects.filter(name__trigram_word_similar="Müler")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = query.explain()
    assert "customer_name_trgm" in plan
