from __future__ import annotations

import pytest

from guidance.rules import FactSchema, RuleError, check_rule, evaluate_condition

SCHEMA = FactSchema(
    {
        "answers": {"refund_amount": 1.0, "wish": "return"},
        "customer": {"segment": "standard", "vip": False},
        "holdings": [{"payment_method": "bank_transfer", "monthly_fee": 9.99}],
    }
)
FACTS = {
    "answers": {"refund_amount": 60, "wish": "return"},
    "customer": {"segment": "premium", "vip": True},
    "holdings": [{"payment_method": "bank_transfer", "monthly_fee": 29.99}],
}


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ('answers.refund_amount > 50 && customer.segment == "premium"', True),
        ("answers.refund_amount > 50.0", True),
        ("answers.refund_amount == 60", True),
        ("50 < answers.refund_amount", True),
        ('holdings.exists(h, h.payment_method == "bank_transfer")', True),
        ("holdings.all(h, h.monthly_fee < 20)", False),
        ("size(holdings) > 0", True),
        ('customer.segment in ["gold", "premium"]', True),
        ("customer.vip && !(answers.refund_amount > 100)", True),
    ],
)
def test_rules_read_like_the_admin_means_them(rule: str, expected: bool) -> None:
    check_rule(rule, SCHEMA)
    assert evaluate_condition(rule, FACTS) is expected


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("answers.refund_amout > 50", "Unknown name “answers.refund_amout”"),
        ("custmer.segment == 'x'", "Unknown name “custmer”"),
        ("customer.__dict__", "Unknown name “customer.__dict__”"),
        ("().__class__", "cannot be read"),
        ("answers.refund_amount > ", "cannot be read"),
        ("2 ** 99999999", "cannot be read"),
        ("(" * 40 + "1" + ")" * 40, "nested too deeply"),
        ("1 == 1 && " * 300 + "true", "too long"),
        ("customer.segment == 1", "mixes kinds of values"),
    ],
)
def test_bad_and_hostile_rules_are_refused_with_a_clear_message(rule: str, message: str) -> None:
    with pytest.raises(RuleError, match=message.replace("(", r"\(").replace("*", r"\*")):
        check_rule(rule, SCHEMA)


def test_a_rule_that_is_not_true_or_false_is_an_error_not_a_guess() -> None:
    with pytest.raises(RuleError, match="not true or false"):
        evaluate_condition("answers.refund_amount", FACTS)


def test_a_missing_fact_at_run_time_is_an_error() -> None:
    with pytest.raises(RuleError, match="failed"):
        evaluate_condition("answers.refund_amount > 5", {"answers": {}})


def test_huge_strings_cannot_be_built() -> None:
    with pytest.raises(RuleError):
        evaluate_condition('size("a" * 100000000) > 1', FACTS)


def test_a_misspelt_field_of_a_macro_variable_is_refused_when_checked() -> None:
    with pytest.raises(RuleError, match=r"Unknown name “h\.payment”\. Known names: h\.monthly"):
        check_rule('holdings.exists(h, h.payment == "bank_transfer")', SCHEMA)
    check_rule('holdings.map(h, h.payment_method).exists(p, p == "invoice")', SCHEMA)
