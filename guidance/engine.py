"""Walking a process: the form of a step, and where to go once it is answered.

Pure decisions over plain facts: the engine knows no case and writes nothing. `cases`
records the run and executes the actions the engine returns.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.utils.translation import gettext_lazy as _
from schwifty import IBAN

from guidance.models import ActionKind, FieldType, StepKind
from guidance.process import ActionSpec, FieldSpec, ProcessSpec, StepSpec
from guidance.rules import RuleError, evaluate_condition

TEXT_LIMIT = 500
LONG_TEXT_LIMIT = 5000
PHONE = RegexValidator(r"^\+?[0-9 ()/.-]{5,25}$", _("Enter a phone number, e.g. +49 151 2345678."))


class IBANField(forms.CharField):
    """An IBAN, checked by its country's length and check digits (ISO 13616)."""

    def clean(self, value: Any) -> str:
        value = super().clean(value)
        if not value:
            return value
        compact = re.sub(r"\s+", "", value).upper()
        if not iban_valid(compact):
            raise forms.ValidationError(_("This is not a valid IBAN."), code="iban")
        return compact


def iban_valid(iban: str) -> bool:
    try:
        IBAN(iban)
    except ValueError:
        return False
    return True


def form_field(spec: FieldSpec, language: str) -> forms.Field:
    label = spec.label_de if language == "de" else spec.label_en
    common: dict[str, Any] = {"label": label, "required": spec.required}
    bounds = [
        *([MinValueValidator(spec.min_value)] if spec.min_value is not None else []),
        *([MaxValueValidator(spec.max_value)] if spec.max_value is not None else []),
    ]
    match spec.type:
        case FieldType.LONG_TEXT:
            return forms.CharField(
                widget=forms.Textarea(attrs={"rows": 3}),
                max_length=spec.max_length or LONG_TEXT_LIMIT,
                **common,
            )
        case FieldType.NUMBER:
            return forms.DecimalField(max_digits=14, decimal_places=4, validators=bounds, **common)
        case FieldType.MONEY:
            return forms.DecimalField(max_digits=12, decimal_places=2, validators=bounds, **common)
        case FieldType.DATE:
            return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
        case FieldType.CHOICE:
            choices = [("", "—"), *[(c, c) for c in spec.choices]]
            return forms.ChoiceField(choices=choices, **common)
        case FieldType.YES_NO:
            return forms.TypedChoiceField(
                choices=[("", "—"), ("yes", _("Yes")), ("no", _("No"))],
                coerce=lambda value: value == "yes",
                empty_value=None,
                **common,
            )
        case FieldType.IBAN:
            return IBANField(max_length=42, **common)
        case FieldType.EMAIL:
            return forms.EmailField(max_length=254, **common)
        case FieldType.PHONE:
            return forms.CharField(max_length=30, validators=[PHONE], **common)
        case _:
            return forms.CharField(max_length=spec.max_length or TEXT_LIMIT, **common)


def step_form_class(step: StepSpec, language: str) -> type[forms.Form]:
    """A Django form for the step's fields; field names are the field keys."""
    fields = {spec.key: form_field(spec, language) for spec in step.fields}
    return type(f"StepForm_{step.key}", (forms.Form,), fields)


def answer_value(value: Any) -> Any:
    """A cleaned form value as a plain fact (JSON-safe)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def answers_from_form(form: forms.Form) -> dict[str, Any]:
    return {key: answer_value(value) for key, value in form.cleaned_data.items()}


@dataclass(frozen=True)
class Advance:
    """What happens after a step: the next step, the actions to run, an exception if any."""

    next_step: str | None  # None when the step is an end
    route_condition: str  # the condition that chose the route; "" for the default
    actions: tuple[ActionSpec, ...] = ()
    exception_reason: str = ""
    errors: tuple[str, ...] = field(default_factory=tuple)


FACT_PATH = re.compile(r"^(answers|customer|case)\.([a-z0-9_]+)$")


def action_value(value: Any, facts: Mapping[str, Any]) -> Any:
    """An action parameter: `answers.street` (or customer./case.) names a fact, else literal."""
    if isinstance(value, str):
        match = FACT_PATH.match(value.strip())
        if match:
            root, name = match.groups()
            return (facts.get(root) or {}).get(name)
    return value


def action_params(action: ActionSpec, facts: Mapping[str, Any]) -> dict[str, Any]:
    return {name: action_value(value, facts) for name, value in action.params.items()}


def condition_holds(text: str, facts: Mapping[str, Any]) -> bool:
    return not text.strip() or evaluate_condition(text, facts)


def step_advance(process: ProcessSpec, step_key: str, facts: Mapping[str, Any]) -> Advance:
    """Choose the route and the actions for a completed step.

    A rule that fails at run time (a missing fact, a wrong type) is not guessed around: it
    raises RuleError, and the caller routes the case to a human.
    """
    step = process.step(step_key)
    actions = tuple(a for a in step.actions if condition_holds(a.condition, facts))
    reasons = [
        str(a.params.get("reason", "")) for a in actions if a.kind == ActionKind.FLAG_EXCEPTION
    ]
    if step.kind == StepKind.END:
        return Advance(None, "", actions, "; ".join(reasons))
    for route in step.routes:
        if condition_holds(route.condition, facts):
            return Advance(route.target, route.condition, actions, "; ".join(reasons))
    raise RuleError(f"No route of step “{step.key}” applies.")


def progress(process: ProcessSpec, visited: list[str], current: str) -> tuple[int, int]:
    """(number of the current step on the path taken, steps on the default path from here)."""
    position = len(visited) + 1
    remaining, key, seen = 0, current, set()
    while key and key not in seen:
        seen.add(key)
        step = process.step(key)
        if step.kind == StepKind.END or not step.routes:
            break
        key = step.routes[-1].target
        remaining += 1
    return position, position + remaining
