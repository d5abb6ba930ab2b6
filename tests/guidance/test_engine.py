from __future__ import annotations

from pathlib import Path

import pytest

from guidance.engine import action_params, progress, step_advance, step_form_class
from guidance.process import spec_from_yaml
from guidance.rules import RuleError

PROCESSES = Path(__file__).resolve().parents[2] / "guidance" / "processes"


def load(key: str):
    return spec_from_yaml((PROCESSES / f"{key}.yaml").read_text())


def test_complaint_goodwill_above_50_flags_an_exception() -> None:
    complaint = load("complaint")
    low = step_advance(complaint, "goodwill", {"answers": {"goodwill_amount": 30.0}})
    high = step_advance(complaint, "goodwill", {"answers": {"goodwill_amount": 80.0}})
    assert (low.next_step, low.exception_reason) == ("close-complaint", "")
    assert high.next_step == "close-complaint"
    assert high.exception_reason == "Goodwill above 50 EUR needs a supervisor's decision."


def test_routes_are_tried_in_order_with_the_default_last() -> None:
    returns = load("return-or-exchange")
    late = {"answers": {"days_since_delivery": 45, "wish": "exchange"}}
    exchange = {"answers": {"days_since_delivery": 3, "wish": "exchange"}}
    plain = {"answers": {"days_since_delivery": 3, "wish": "return"}}
    assert step_advance(returns, "item", late).next_step == "outside-window"
    assert step_advance(returns, "item", exchange).next_step == "exchange"
    advance = step_advance(returns, "item", plain)
    assert (advance.next_step, advance.route_condition) == ("return", "")


def test_end_step_returns_its_actions_and_no_next_step() -> None:
    advance = step_advance(load("change-of-address"), "done", {"answers": {}})
    assert advance.next_step is None
    assert [a.params["transition"] for a in advance.actions] == ["resolve"]


def test_action_parameters_read_answers() -> None:
    address = load("change-of-address")
    facts = {"answers": {"street": "Hauptstr. 5", "postal_code": "10115", "city": "Berlin"}}
    (update, _message) = step_advance(address, "confirm", facts).actions
    assert action_params(update, facts) == {
        "target": "address",
        "street": "Hauptstr. 5",
        "postal_code": "10115",
        "city": "Berlin",
    }


def test_a_rule_failing_at_run_time_raises_instead_of_guessing() -> None:
    with pytest.raises(RuleError):
        step_advance(load("complaint"), "goodwill", {"answers": {}})


def test_step_form_validates_types_limits_and_required_fields() -> None:
    complaint = load("complaint")
    form_class = step_form_class(complaint.step("goodwill"), "de")
    assert form_class({"goodwill_amount": "30.50"}).is_valid()
    too_much = form_class({"goodwill_amount": "5000"})
    assert not too_much.is_valid()
    assert "goodwill_amount" in too_much.errors
    assert not form_class({}).is_valid()
    assert form_class().fields["goodwill_amount"].label == "Kulanzbetrag (EUR)"


def test_iban_field_checks_the_check_digits() -> None:
    spec = spec_from_yaml(
        """
key: p
name_de: P
name_en: P
steps:
  - key: a
    kind: form
    title_de: A
    title_en: A
    fields: [{key: iban, type: iban, label_de: IBAN, label_en: IBAN}]
    routes: [{target: b}]
  - {key: b, kind: end, title_de: B, title_en: B}
"""
    )
    form_class = step_form_class(spec.step("a"), "en")
    good = form_class({"iban": "de89 3704 0044 0532 0130 00"})
    assert good.is_valid()
    assert good.cleaned_data["iban"] == "DE89370400440532013000"
    assert not form_class({"iban": "DE89370400440532013001"}).is_valid()


def test_yes_no_answers_become_booleans_for_the_rules() -> None:
    cancellation = load("cancellation")
    form = step_form_class(cancellation.step("retention"), "en")({"offer_accepted": "yes"})
    assert form.is_valid()
    assert form.cleaned_data["offer_accepted"] is True
    assert (
        step_advance(cancellation, "retention", {"answers": form.cleaned_data}).next_step == "kept"
    )


def test_progress_counts_the_path_taken_and_the_default_path_ahead() -> None:
    address = load("change-of-address")
    assert progress(address, [], "identify") == (1, 4)
    assert progress(address, ["identify", "new-address"], "confirm") == (3, 4)
