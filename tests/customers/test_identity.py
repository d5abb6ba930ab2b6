from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from customers import identity


@pytest.mark.parametrize(
    "typed",
    [
        "0151 23456789",
        "0151/23456789",
        "(0151) 234 567 89",
        "+49 151 23456789",
        "0049 151 234-567-89",
        "+4915123456789",
    ],
)
def test_phone_numbers_in_any_common_format_become_e164(typed: str) -> None:
    assert identity.phone_normalise(typed) == "+4915123456789"


def test_a_foreign_number_keeps_its_country() -> None:
    assert identity.phone_normalise("+44 20 7946 0958") == "+442079460958"


@pytest.mark.parametrize("typed", ["12", "0151", "hello", "+49 000 1", ""])
def test_an_impossible_phone_number_is_refused_with_a_specific_message(typed: str) -> None:
    with pytest.raises(ValidationError) as error:
        identity.phone_normalise(typed)
    assert "phone number" in error.value.messages[0]


def test_email_is_lower_cased_and_checked() -> None:
    assert identity.email_normalise("  Anna.Mueller@Example.DE ") == "anna.mueller@example.de"
    with pytest.raises(ValidationError, match="e-mail address"):
        identity.email_normalise("anna@")


def test_iban_is_compacted_and_each_mistake_has_its_message() -> None:
    assert identity.iban_normalise("de89 3704 0044 0532 0130 00") == "DE89370400440532013000"
    with pytest.raises(ValidationError, match="check digits"):
        identity.iban_normalise("DE88 3704 0044 0532 0130 00")
    with pytest.raises(ValidationError, match="length"):
        identity.iban_normalise("DE89 3704 0044 0532 0130")
    assert identity.iban_or_none("DE89370400440532013000") == "DE89370400440532013000"
    assert identity.iban_or_none("Anna Müller") is None


def test_postal_codes_follow_the_country() -> None:
    assert identity.postal_code_normalise(" 10115 ", country="DE") == "10115"
    assert identity.postal_code_normalise("1010", country="AT") == "1010"
    with pytest.raises(ValidationError, match="five digits"):
        identity.postal_code_normalise("1011", country="DE")
    assert identity.postal_code_normalise("sw1a 1aa", country="GB") == "SW1A 1AA"


def test_social_handles_are_qualified_by_their_network() -> None:
    assert identity.handle_normalise("@Anna.M", network="Instagram") == "instagram:anna.m"


@pytest.mark.django_db
def test_a_phone_number_is_one_look_up_and_a_digits_only_customer_number_still_counts(
    django_assert_num_queries,
) -> None:
    from customers.models import ContactKind
    from customers.selectors import customer_identify
    from tests.factories import ContactPointFactory, CustomerFactory

    anna = CustomerFactory()
    ContactPointFactory(
        customer=anna, kind=ContactKind.MOBILE, value="0170 1234567", normalised="+491701234567"
    )
    with django_assert_num_queries(1):
        assert customer_identify(query="0170 123 45 67") == anna
    imported = CustomerFactory(number="4711081500")
    assert customer_identify(query="4711081500") == imported
    assert customer_identify(query="K-does-not-exist") is None
