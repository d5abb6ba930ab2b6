from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from cases.services import REASON_MAX_LENGTH, TransitionInput


class TransitionForm(forms.Form):
    expected_state = forms.CharField(required=False, max_length=20, widget=forms.HiddenInput)
    resolution = forms.CharField(
        label=_("Resolution"), required=False, max_length=REASON_MAX_LENGTH, widget=forms.Textarea
    )
    reason = forms.CharField(
        label=_("Reason"), required=False, max_length=REASON_MAX_LENGTH, widget=forms.Textarea
    )

    def transition_input(self) -> TransitionInput:
        return TransitionInput(
            resolution=self.cleaned_data["resolution"], reason=self.cleaned_data["reason"]
        )

    def first_error(self) -> str:
        return next(iter(e for errors in self.errors.values() for e in errors), "")
