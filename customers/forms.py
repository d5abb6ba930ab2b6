"""Forms for editing master data in place. They parse the input; the services validate the
domain rules (phone, e-mail, IBAN, postal code) and their messages land on the fields."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from customers.models import ContactKind, PaymentMethod


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
