"""How identifiers are normalised and validated: phone numbers, e-mail, IBAN, postal codes.

One place for the rules, so that what a service stores, what a form accepts and what the
search looks up always agree. Each function returns the normalised value or raises
`ValidationError` with a message that tells the agent what is wrong.
"""

from __future__ import annotations

import re

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _
from schwifty import IBAN
from schwifty import exceptions as iban_errors

DEFAULT_REGION = "DE"
PHONE_LIKE = re.compile(r"^\+?[\d\s()/.\-]{6,30}$")
POSTAL_CODE_RULES = {
    "DE": (re.compile(r"^\d{5}$"), _("A German postal code has five digits, e.g. 10115.")),
    "AT": (re.compile(r"^\d{4}$"), _("An Austrian postal code has four digits, e.g. 1010.")),
    "CH": (re.compile(r"^\d{4}$"), _("A Swiss postal code has four digits, e.g. 8001.")),
}
OTHER_POSTAL_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 \-]{1,9}$")


def looks_like_phone(value: str) -> bool:
    """Digits with the usual separators: worth trying as a phone number in the search."""
    return bool(PHONE_LIKE.match(value.strip())) and sum(c.isdigit() for c in value) >= 6


def phone_normalise(value: str, *, region: str = DEFAULT_REGION) -> str:
    """E.164 (`+4930123456`) from any common way of writing a number; German by default."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationError(
            _(
                "This is not a valid phone number. Enter it with the area code, "
                "e.g. 030 1234567 or +49 151 23456789."
            ),
            code="phone",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_display(e164: str) -> str:
    """An E.164 number the way people read it: national for German numbers."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if number.country_code == 49
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, style)


def email_normalise(value: str) -> str:
    value = value.strip()
    try:
        validate_email(value)
    except ValidationError:
        raise ValidationError(
            _("This is not a valid e-mail address; it should look like name@example.de."),
            code="email",
        ) from None
    return value.lower()


def handle_normalise(value: str, *, network: str) -> str:
    """A social handle or messenger id, qualified by its network: `instagram:anna.m`."""
    handle = value.strip().lstrip("@").lower()
    if not handle or not network.strip():
        raise ValidationError(
            _("Give the network and the handle, e.g. instagram and @anna.m."), code="handle"
        )
    return f"{network.strip().lower()}:{handle}"


IBAN_MESSAGES = {
    iban_errors.InvalidChecksumDigits: _(
        "The IBAN's check digits do not match: please look for a typo."
    ),
    iban_errors.InvalidLength: _("The IBAN has the wrong length for its country."),
    iban_errors.InvalidCountryCode: _("The IBAN starts with an unknown country code."),
    iban_errors.InvalidStructure: _(
        "The IBAN has characters in the wrong places; it starts with a country code, "
        "e.g. DE89 3704 0044 0532 0130 00."
    ),
    iban_errors.InvalidBBANChecksum: _("The account number inside the IBAN is not valid."),
    iban_errors.InvalidBankCode: _("The IBAN names a bank code that does not exist."),
}


def iban_normalise(value: str) -> str:
    """The IBAN in its compact form (`DE89370400440532013000`), checked with schwifty."""
    try:
        return IBAN(value.strip()).compact
    except iban_errors.SchwiftyException as error:
        message = next(
            (text for kind, text in IBAN_MESSAGES.items() if isinstance(error, kind)),
            _("This is not a valid IBAN."),
        )
        raise ValidationError(message, code="iban") from None


def iban_or_none(value: str) -> str | None:
    """The compact IBAN when `value` is one, else None (for the search)."""
    compact = re.sub(r"\s", "", value).upper()
    if not (15 <= len(compact) <= 34 and compact[:2].isalpha()):
        return None
    try:
        return IBAN(compact).compact
    except iban_errors.SchwiftyException:
        return None


def postal_code_normalise(value: str, *, country: str) -> str:
    value = value.strip()
    pattern, message = POSTAL_CODE_RULES.get(
        country.upper(), (OTHER_POSTAL_CODE, _("This is not a valid postal code."))
    )
    if not pattern.match(value):
        raise ValidationError(message, code="postal_code")
    return value.upper()
