from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from cases.models import Team
from cases.services import NOTE_MAX_LENGTH, REASON_MAX_LENGTH, TransitionInput


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


class AssignForm(forms.Form):
    """Reassign to a person and/or transfer to another team."""

    team = forms.ModelChoiceField(
        label=_("Team"), queryset=Team.objects.all(), required=False, empty_label=_("(keep)")
    )
    assignee = forms.ModelChoiceField(
        label=_("Person"),
        queryset=get_user_model().objects.filter(is_active=True),
        required=False,
        empty_label=_("(nobody: back to the queue)"),
    )
    note = forms.CharField(
        label=_("Note"), required=False, max_length=NOTE_MAX_LENGTH, widget=forms.Textarea
    )

    def first_error(self) -> str:
        return next(iter(e for errors in self.errors.values() for e in errors), "")


class NoteForm(forms.Form):
    text = forms.CharField(
        label=_("Internal note"), required=False, max_length=NOTE_MAX_LENGTH, widget=forms.Textarea
    )

    def first_error(self) -> str:
        return next(iter(e for errors in self.errors.values() for e in errors), "")


class DecisionForm(forms.Form):
    decision = forms.CharField(
        label=_("Decision"), required=False, max_length=NOTE_MAX_LENGTH, widget=forms.Textarea
    )

    def first_error(self) -> str:
        return next(iter(e for errors in self.errors.values() for e in errors), "")


class IdentifyForm(forms.Form):
    """Link an unknown sender's prospect to the customer this exact identifier names."""

    customer = forms.CharField(
        label=_("Customer number, phone or e-mail"),
        max_length=200,
        error_messages={
            "required": _("Enter a customer number, phone number or e-mail address."),
        },
    )
    # Where the form was: "case" (the case screen) or the exception queue's row.
    where = forms.CharField(required=False, max_length=10, widget=forms.HiddenInput)

    def first_error(self) -> str:
        return next(iter(e for errors in self.errors.values() for e in errors), "")


class MergeForm(forms.Form):
    """Merge this case into the case with `reference`; the box confirms it is a duplicate."""

    expected_state = forms.CharField(required=False, max_length=20, widget=forms.HiddenInput)
    reference = forms.CharField(
        label=_("Merge into case"),
        max_length=40,
        error_messages={"required": _("Enter the reference of the case to merge into.")},
    )
    confirm = forms.BooleanField(
        label=_("This case is a duplicate: move its contacts there and close it."),
        error_messages={"required": _("Tick the box to confirm the merge.")},
    )

    def first_error(self) -> str:
        return next(iter(e for errors in self.errors.values() for e in errors), "")
