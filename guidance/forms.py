"""Input of the process editor: one step with its fields, routes and actions; imports.

`StepEditor` validates a whole step at once. Conditions are checked against the facts the
draft *would* have with this step saved (a route may name a field added in the same
edit), and every problem is attached to the input it belongs to, so nothing is saved
half and the admin sees where to look.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from django import forms
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from customers.models import Channel, Customer
from guidance.editing import spec_step_replace
from guidance.models import ActionKind, FieldType, Offer, StepKind
from guidance.process import (
    ACTION_PARAMS,
    KEY_MAX,
    ActionSpec,
    FieldSpec,
    ProcessSpec,
    RouteSpec,
    StepSpec,
    fact_schema,
)
from guidance.rules import MAX_LENGTH, RuleError, check_rule

IMPORT_MAX_BYTES = 512 * 1024
PARAM_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
PARAMS_MAX = 20


class StepForm(forms.Form):
    key = forms.SlugField(label=_("Key"), max_length=KEY_MAX)
    kind = forms.ChoiceField(label=_("Kind"), choices=StepKind.choices)
    title_de = forms.CharField(label=_("Title (German)"), max_length=200)
    title_en = forms.CharField(label=_("Title (English)"), max_length=200)
    instruction_de = forms.CharField(
        label=_("Work instruction (German)"),
        required=False,
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    instruction_en = forms.CharField(
        label=_("Work instruction (English)"),
        required=False,
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 6}),
    )

    def __init__(self, *args: Any, other_keys: set[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.other_keys = other_keys

    def clean_key(self) -> str:
        key = self.cleaned_data["key"]
        if key in self.other_keys:
            raise forms.ValidationError(_("Another step has this key."))
        return key


class FieldForm(forms.Form):
    # Rules name a field as answers.<key>, so the key must read as one CEL identifier.
    key = forms.RegexField(
        label=_("Key"),
        max_length=KEY_MAX,
        regex=r"^[a-z][a-z0-9_]*$",
        error_messages={
            "invalid": _("Small letters, digits and _ only, starting with a letter."),
        },
    )
    # "—" first, so that the empty extra row stays untouched (and adds nothing).
    type = forms.ChoiceField(label=_("Type"), choices=[("", "—"), *FieldType.choices])
    label_de = forms.CharField(label=_("Label (German)"), max_length=200)
    label_en = forms.CharField(label=_("Label (English)"), max_length=200)
    required = forms.BooleanField(label=_("Required"), required=False)
    choices = forms.CharField(
        label=_("Choices"),
        required=False,
        max_length=2000,
        help_text=_("Separated by commas, for a choice field."),
    )
    min_value = forms.DecimalField(label=_("Min"), required=False, max_digits=14, decimal_places=2)
    max_value = forms.DecimalField(label=_("Max"), required=False, max_digits=14, decimal_places=2)
    max_length = forms.IntegerField(label=_("Max length"), required=False, min_value=1)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        choices = [c.strip() for c in (data.get("choices") or "").split(",") if c.strip()]
        data["choices"] = tuple(dict.fromkeys(choices))
        if data.get("type") == FieldType.CHOICE and not choices:
            self.add_error("choices", _("A choice field needs at least one choice."))
        low, high = data.get("min_value"), data.get("max_value")
        if low is not None and high is not None and low > high:
            self.add_error("max_value", _("The maximum is below the minimum."))
        return data

    def spec(self) -> FieldSpec:
        data = self.cleaned_data
        return FieldSpec(
            key=data["key"],
            type=data["type"],
            label_de=data["label_de"],
            label_en=data["label_en"],
            required=data["required"],
            choices=data["choices"],
            min_value=data["min_value"],
            max_value=data["max_value"],
            max_length=data["max_length"],
        )


class ConditionField(forms.CharField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            label=_("Condition"),
            required=False,
            max_length=MAX_LENGTH,
            strip=True,
            widget=forms.TextInput(attrs={"class": "rule", "spellcheck": "false"}),
            **kwargs,
        )


class RouteForm(forms.Form):
    condition = ConditionField(help_text=_("Empty: the default route, always tried last."))
    target = forms.ChoiceField(label=_("Next step"))

    def __init__(self, *args: Any, targets: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["target"].choices = [("", "—"), *targets]

    def spec(self) -> RouteSpec:
        data = self.cleaned_data
        return RouteSpec(target=data["target"], condition=data["condition"])


class ActionForm(forms.Form):
    kind = forms.ChoiceField(label=_("Action"), choices=[("", "—"), *ActionKind.choices])
    condition = ConditionField(help_text=_("Empty: always."))
    params = forms.CharField(
        label=_("Parameters"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        help_text=_("One “name: value” per line; answers.field_key takes an answer."),
    )

    def __init__(self, *args: Any, original: Mapping[str, Any] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.original = original or {}

    def clean_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for line in self.cleaned_data["params"].splitlines():
            if not line.strip():
                continue
            name, colon, value = line.partition(":")
            name, value = name.strip(), value.strip()
            if not colon or not PARAM_NAME.match(name):
                raise forms.ValidationError(
                    _("Write each parameter as “name: value” (name in small letters): %(line)s"),
                    params={"line": line.strip()[:60]},
                )
            # A value that reads the same as before keeps its type (a number stays a number).
            before = self.original.get(name)
            params[name] = before if before is not None and str(before) == value else value
        if len(params) > PARAMS_MAX:
            raise forms.ValidationError(_("At most %(n)s parameters."), params={"n": PARAMS_MAX})
        return params

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind, params = data.get("kind"), data.get("params")
        if kind and params is not None:
            missing = [p for p in ACTION_PARAMS.get(ActionKind(kind), []) if not params.get(p)]
            if missing:
                self.add_error(
                    "params",
                    _("This action needs: %(names)s.") % {"names": ", ".join(missing)},
                )
        return data

    def spec(self) -> ActionSpec:
        data = self.cleaned_data
        return ActionSpec(kind=data["kind"], params=data["params"], condition=data["condition"])


FieldFormSet = forms.formset_factory(
    FieldForm, extra=1, can_delete=True, max_num=50, validate_max=True
)
RouteFormSet = forms.formset_factory(
    RouteForm,
    extra=1,
    can_delete=True,
    can_order=True,
    max_num=30,
    validate_max=True,
)
ActionFormSet = forms.formset_factory(
    ActionForm, extra=1, can_delete=True, max_num=20, validate_max=True
)


def params_text(params: Mapping[str, Any]) -> str:
    return "\n".join(f"{name}: {value}" for name, value in params.items())


class StepEditor:
    """The step form and its three row sets, validated and turned into a new spec together."""

    def __init__(self, *, spec: ProcessSpec, step: StepSpec, data: Any = None) -> None:
        self.spec, self.step = spec, step
        language = (get_language() or "en")[:2]
        targets = [(s.key, f"{s.key} · {s.title(language)}") for s in spec.steps]
        self.form = StepForm(
            data,
            prefix="step",
            other_keys={s.key for s in spec.steps} - {step.key},
            initial={name: getattr(step, name) for name in StepForm.base_fields},
        )
        self.fields = FieldFormSet(
            data,
            prefix="fields",
            initial=[
                {
                    **{n: getattr(f, n) for n in ("key", "type", "label_de", "label_en")},
                    "required": f.required,
                    "choices": ", ".join(f.choices),
                    "min_value": f.min_value,
                    "max_value": f.max_value,
                    "max_length": f.max_length,
                }
                for f in step.fields
            ],
        )
        self.routes = RouteFormSet(
            data,
            prefix="routes",
            initial=[
                {"condition": r.condition, "target": r.target, "ORDER": n}
                for n, r in enumerate(step.routes, start=1)
            ],
            form_kwargs={"targets": targets},
        )
        originals = [dict(a.params) for a in step.actions]
        self.actions = ActionFormSet(
            data,
            prefix="actions",
            initial=[
                {"kind": a.kind, "condition": a.condition, "params": params_text(a.params)}
                for a in step.actions
            ],
        )
        for index, form in enumerate(self.actions.forms):
            form.original = originals[index] if index < len(originals) else {}

    @property
    def instruction_fields(self) -> list[forms.BoundField]:
        return [self.form["instruction_de"], self.form["instruction_en"]]

    def is_valid(self) -> bool:
        parts = [self.form, self.fields, self.routes, self.actions]
        valid = [part.is_valid() for part in parts]  # every part, so all errors show
        if not all(valid):
            return False
        return self.conditions_valid()

    def new_step(self) -> StepSpec:
        data = self.form.cleaned_data
        return replace(
            self.step,
            **{name: data[name] for name in data},
            fields=tuple(form.spec() for form in rows(self.fields)),
            # The default route (no condition) is tried last, wherever it was typed.
            routes=tuple(sorted((form.spec() for form in rows(self.routes)), key=is_default)),
            actions=tuple(form.spec() for form in rows(self.actions)),
        )

    def new_spec(self) -> ProcessSpec:
        return spec_step_replace(self.spec, self.step.key, self.new_step())

    def conditions_valid(self) -> bool:
        # Rows first: once an error is added, the route set is invalid and has no order.
        schema = fact_schema(self.new_spec())
        route_rows, action_rows = rows(self.routes), rows(self.actions)
        valid = True
        defaults = [form for form in route_rows if not form.cleaned_data["condition"]]
        for form in defaults[1:]:
            form.add_error("condition", _("Only one route may go without a condition."))
            valid = False
        for form in route_rows + action_rows:
            condition = form.cleaned_data.get("condition", "")
            if condition:
                try:
                    check_rule(condition, schema)
                except RuleError as error:
                    form.add_error("condition", str(error))
                    valid = False
        return valid


def is_default(route: RouteSpec) -> bool:
    return not route.condition


def rows(formset: forms.BaseFormSet) -> list[forms.Form]:
    """The rows to keep, in order: not deleted, and not an untouched empty extra row.

    An untouched extra row is valid with empty `cleaned_data`; `ordered_forms` (routes)
    already leaves out deleted and untouched rows.
    """
    if formset.can_order:
        return list(formset.ordered_forms)
    deleted = {id(form) for form in formset.deleted_forms}
    return [form for form in formset.forms if id(form) not in deleted and form.cleaned_data]


class ImportForm(forms.Form):
    file = forms.FileField(label=_("YAML file"), required=False)
    text = forms.CharField(
        label=_("or paste the YAML"),
        required=False,
        max_length=IMPORT_MAX_BYTES,
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false", "class": "code"}),
    )
    publish = forms.BooleanField(label=_("Publish right away"), required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        upload = data.get("file")
        if upload:
            if upload.size > IMPORT_MAX_BYTES:
                raise forms.ValidationError(_("The file is too large (at most 512 KB)."))
            try:
                data["text"] = upload.read().decode("utf-8")
            except UnicodeDecodeError:
                raise forms.ValidationError(_("The file is not UTF-8 text.")) from None
        if not (data.get("text") or "").strip():
            raise forms.ValidationError(_("Choose a file or paste the YAML."))
        return data


class TestRunStartForm(forms.Form):
    customer = forms.CharField(label=_("Customer number"), max_length=20)

    def found_customer(self) -> Customer | None:
        """The customer with this number (any case), or None with the error on the field."""
        found = Customer.objects.filter(number__iexact=self.cleaned_data["customer"]).first()
        if found is None:
            self.add_error("customer", _("No customer has this number."))
        return found


class OfferForm(forms.ModelForm):
    """An offer of the catalog; the model's clean() checks the eligibility rule."""

    channels = forms.MultipleChoiceField(
        label=_("channels"),
        choices=Channel.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Where it may be offered; none ticked: every channel."),
    )

    class Meta:
        model = Offer
        fields = [
            "key",
            "kind",
            "name_de",
            "name_en",
            "pitch_de",
            "pitch_en",
            "benefit_de",
            "benefit_en",
            "rule",
            "value_weight",
            "valid_from",
            "valid_until",
            "channels",
            "cooldown_days",
            "cap_count",
            "cap_days",
            "service_recovery",
            "product",
            "process_key",
            "connector_action",
            "connector_value",
            "control_percent",
        ]
        widgets = {
            "rule": forms.TextInput(
                attrs={"class": "rule", "spellcheck": "false", "autocomplete": "off"}
            ),
            "valid_from": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "valid_until": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "pitch_de": forms.Textarea(attrs={"rows": 3}),
            "pitch_en": forms.Textarea(attrs={"rows": 3}),
        }

    def clean_rule(self) -> str:
        return self.cleaned_data["rule"].strip()
