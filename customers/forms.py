"""Forms for editing master data in place. They parse the input; the services validate the
domain rules (phone, e-mail, IBAN, postal code) and their messages land on the fields."""

from __future__ import annotations

import json
from collections.abc import Mapping

from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from customers.models import (
    Channel,
    ContactKind,
    Customer,
    CustomerKind,
    CustomerStatus,
    Language,
    PaymentMethod,
    Segment,
)
from customers.services import Actor, customer_fields_for, text


class ServiceErrorsMixin:
    def add_service_errors(self, error: ValidationError) -> None:
        """Attach a service's ValidationError to the fields it names (or the whole form)."""
        if hasattr(error, "error_dict"):
            for field, errors in error.message_dict.items():
                self.add_error(field if field in self.fields else None, errors)  # type: ignore[attr-defined]
        else:
            self.add_error(None, error)  # type: ignore[attr-defined]


class ContactPointForm(ServiceErrorsMixin, forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=ContactKind.choices)
    value = forms.CharField(label=_("Value"), max_length=200)
    network = forms.CharField(
        label=_("Network"),
        max_length=30,
        required=False,
        help_text=_("For social media and messengers, e.g. instagram or whatsapp."),
    )
    primary = forms.BooleanField(label=_("Primary"), required=False)
    verified = forms.BooleanField(label=_("Verified"), required=False)


class AddressForm(ServiceErrorsMixin, forms.Form):
    street = forms.CharField(label=_("Street and number"), max_length=200, required=False)
    postal_code = forms.CharField(label=_("Postal code"), max_length=10, required=False)
    city = forms.CharField(label=_("City"), max_length=100, required=False)
    country = forms.CharField(label=_("Country"), max_length=2, min_length=2, initial="DE")


class PaymentForm(ServiceErrorsMixin, forms.Form):
    holding = forms.IntegerField(widget=forms.HiddenInput)
    payment_method = forms.ChoiceField(label=_("Payment method"), choices=PaymentMethod.choices)
    iban = forms.CharField(label=_("IBAN"), max_length=42, required=False)


class CustomerForm(ServiceErrorsMixin, forms.Form):
    """The customer's own fields, edited in the cockpit's header.

    Only the fields the user may change are on the form (segment and status for supervisors
    and admins), and only the one of date of birth and register number that fits the kind.
    `seen` carries the values the form showed, so that the service saves only what the
    agent changed and notices a conflicting change from someone else.
    """

    name = forms.CharField(label=_("Name"), max_length=200)
    date_of_birth = forms.DateField(
        label=_("Date of birth"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    register_number = forms.CharField(label=_("Register number"), max_length=40, required=False)
    language = forms.ChoiceField(label=_("Language"), choices=Language.choices)
    preferred_channel = forms.ChoiceField(
        label=_("Preferred channel"),
        choices=[("", _("No preference")), *Channel.choices],
        required=False,
    )
    consent_service = forms.BooleanField(label=_("Consent to service contact"), required=False)
    consent_marketing = forms.BooleanField(label=_("Consent to marketing"), required=False)
    segment = forms.ChoiceField(label=_("Segment"), choices=Segment.choices)
    status = forms.ChoiceField(label=_("Status"), choices=CustomerStatus.choices)
    seen = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, data: QueryDict | None = None, *, customer: Customer, user: Actor) -> None:
        names = [
            name
            for name in customer_fields_for(user)
            if not (name == "date_of_birth" and customer.kind != CustomerKind.PERSON)
            and not (name == "register_number" and customer.kind != CustomerKind.ORGANISATION)
        ]
        initial = {name: getattr(customer, name) for name in names}
        super().__init__(data, initial={**initial, "seen": seen_token(customer, names)})
        for name in list(self.fields):
            if name not in names and name != "seen":
                del self.fields[name]
        self.customer = customer
        self.user = user

    def clean_seen(self) -> dict[str, str]:
        try:
            seen = json.loads(self.cleaned_data["seen"])
        except ValueError:
            seen = None
        if not isinstance(seen, dict):
            # A hidden field's error would show nowhere; say it above the form.
            self.add_error(None, _("The form was incomplete. Open it again."))
            return {}
        return {str(name): str(value) for name, value in seen.items()}

    def changes(self) -> dict[str, object]:
        """The posted values of the customer's fields (the service keeps only real changes)."""
        return {name: self.cleaned_data[name] for name in self.fields if name != "seen"}

    def after_conflict(self, current: Customer) -> CustomerForm:
        """The form again over the current record: what this user changed stays as typed,
        every other field shows the current value, and `seen` is now the current record,
        so saving again applies exactly this user's changes."""
        seen = self.cleaned_data["seen"]
        data = self.data.copy()
        for name, field in self.fields.items():
            if name == "seen" or text(self.cleaned_data.get(name)) != text(seen.get(name)):
                continue
            value = getattr(current, name)
            if isinstance(field, forms.BooleanField):
                data.pop(name, None)
                if value:
                    data[name] = "on"
            else:
                data[name] = "" if value is None else str(value)
        names = [name for name in self.fields if name != "seen"]
        data["seen"] = seen_token(current, names)
        return CustomerForm(data, customer=current, user=self.user)


def seen_token(customer: Customer, names: list[str]) -> str:
    values: Mapping[str, str] = {name: text(getattr(customer, name)) for name in names}
    return json.dumps(values, sort_keys=True)
