"""The compiled closures give cel-python's answers: over thousands of generated rules and
facts, including type mixes, missing fields, nulls and out-of-range indexes."""

from __future__ import annotations

import random
from typing import Any

import pytest

from guidance.rule_closures import MAX_STEPS, Fallback, rule_closure, run
from guidance.rules import (
    RuleError,
    condition_by_cel,
    evaluate_condition,
    evaluate_prepared_condition,
    prepare,
)

SEED = 20261125
RULES = 1500
FACT_SETS = 4

NUMBERS = ["customer.age", "case.priority", "size(holdings)", "holdings.size()"]
TEXTS = ["customer.segment", "customer.status", "customer.language", "case.category"]
BOOLS = ["customer.vip", "customer.marketing_consent", "customer.service_consent"]
HOLDING_NUMBERS = ["h.monthly_fee"]
HOLDING_TEXTS = ["h.product", "h.status", "h.payment_method"]
WORDS = ['"private"', '"premium"', '""', "'active'", '"DSL 100"', '"bank_transfer"', '"de"']
ODD = ["customer.nope", "holdings[0].product", "holdings[7].status", "null", "h.missing"]


class Rules:
    """A random rule generator: mostly well-typed, sometimes deliberately not."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def pick(self, options: list[str]) -> str:
        return self.rng.choice(options)

    def number(self, depth: int, holding: bool) -> str:
        roll = self.rng.random()
        if roll < 0.1:
            return self.anything(depth, holding)
        if depth > 0 and roll < 0.25:
            op = self.pick(["+", "-", "*", "/"])
            return f"({self.number(depth - 1, holding)} {op} {self.number(depth - 1, holding)})"
        if roll < 0.5:
            return self.pick(["18", "0", "3", "29.99", "-2", "2.5", "100"])
        if depth > 0 and roll < 0.6:
            return f"holdings.filter(h, {self.boolean(depth - 1, True)}).size()"
        return self.pick(NUMBERS + (HOLDING_NUMBERS if holding else []))

    def text(self, depth: int, holding: bool) -> str:
        roll = self.rng.random()
        if roll < 0.1:
            return self.anything(depth, holding)
        if depth > 0 and roll < 0.2:
            return f"({self.text(depth - 1, holding)} + {self.text(depth - 1, holding)})"
        if roll < 0.5:
            return self.pick(WORDS)
        return self.pick(TEXTS + (HOLDING_TEXTS if holding else []))

    def anything(self, depth: int, holding: bool) -> str:
        return self.pick(ODD + BOOLS + WORDS + NUMBERS + ["[1, 2]", "holdings", "customer"])

    def boolean(self, depth: int, holding: bool = False) -> str:
        roll = self.rng.random()
        if depth <= 0 or roll < 0.15:
            return self.pick([*BOOLS, "true", "false", *(["has(h.product)"] if holding else [])])
        d = depth - 1
        choices = [
            lambda: (
                f"{self.number(d, holding)} {self.pick(['<', '<=', '>', '>=', '==', '!='])} "
                f"{self.number(d, holding)}"
            ),
            lambda: (
                f"{self.text(d, holding)} {self.pick(['==', '!=', '<', '>='])} "
                f"{self.text(d, holding)}"
            ),
            lambda: (
                f"{self.text(d, holding)}.{self.pick(['startsWith', 'endsWith', 'contains'])}"
                f"({self.text(d, holding)})"
            ),
            lambda: f"{self.boolean(d, holding)} && {self.boolean(d, holding)}",
            lambda: f"({self.boolean(d, holding)} || {self.boolean(d, holding)})",
            lambda: f"!{self.boolean(d, holding)}",
            lambda: (
                f"({self.boolean(d, holding)} ? {self.boolean(d, holding)} : "
                f"{self.boolean(d, holding)})"
            ),
            lambda: f"{self.text(d, holding)} in [{self.text(d, holding)}, {self.pick(WORDS)}]",
            lambda: (
                f"holdings.{self.pick(['exists', 'all', 'exists_one'])}(h, {self.boolean(d, True)})"
            ),
            lambda: f"has(customer.{self.pick(['vip', 'nope', 'age'])})",
            lambda: f"{self.anything(d, holding)} == {self.anything(d, holding)}",
            lambda: f"holdings.map(h, {self.text(d, True)}).exists(p, p == {self.pick(WORDS)})",
            lambda: f'"age" in customer && {self.boolean(d, holding)}',
        ]
        return self.rng.choice(choices)()


def random_facts(rng: random.Random) -> dict[str, Any]:
    holdings = []
    for n in range(rng.randint(0, 5)):
        holding = {
            "product": rng.choice(["DSL 100", "TV", "Mobile", f"Product {n}"]),
            "status": rng.choice(["active", "pending", "ended"]),
            "monthly_fee": rng.choice([0, 9.99, 29.99, 45, 100.5]),
            "payment_method": rng.choice(["bank_transfer", "direct_debit", "invoice"]),
        }
        if rng.random() < 0.1:
            del holding["status"]
        holdings.append(holding)
    return {
        "customer": {
            "segment": rng.choice(["private", "premium", "business", ""]),
            "status": rng.choice(["active", "prospect"]),
            "language": rng.choice(["de", "en"]),
            "vip": rng.random() < 0.3,
            "marketing_consent": rng.random() < 0.5,
            "service_consent": rng.random() < 0.8,
            "age": rng.choice([0, 17, 18, 40, 71]),
        },
        "holdings": holdings,
        "case": {"category": rng.choice(["", "complaint", "question"]), "priority": 2},
    }


def outcome(call: Any) -> tuple[str, Any]:
    try:
        return "value", call()
    except RuleError as error:
        return "error", str(error)


def test_closures_agree_with_cel_over_generated_rules_and_facts() -> None:
    rng = random.Random(SEED)
    generator = Rules(rng)
    facts = [prepare(random_facts(rng)) for _ in range(FACT_SETS)]
    compiled = fast = 0
    for _ in range(RULES):
        text = generator.boolean(3)
        closure = rule_closure(text)
        compiled += closure is not None
        for prepared in facts:
            expected = outcome(lambda t=text, p=prepared: condition_by_cel(t, p))
            if closure is not None:
                try:
                    direct = run(closure, prepared.plain)
                except Fallback:
                    pass
                else:
                    if type(direct) is bool:
                        fast += 1
                        assert ("value", direct) == expected, text
            got = outcome(lambda t=text, p=prepared: evaluate_prepared_condition(t, p))
            assert got == expected, text
    # The point is speed: most rules must compile and most evaluations stay on the fast path.
    assert compiled > RULES * 0.9
    assert fast > RULES * FACT_SETS * 0.5


@pytest.mark.parametrize(
    "rule",
    [
        'holdings.exists(h, h.payment_method == "bank_transfer" && h.status == "active")',
        'holdings.exists(h, h.product == "DSL 100") && !holdings.exists(h, h.product == "TV")',
        "holdings.filter(h, h.monthly_fee > 20).size() >= 3",
        'customer.segment == "private" && customer.age >= 18',
        "size(holdings) >= 5 && customer.marketing_consent",
    ],
)
def test_the_demo_and_benchmark_rules_compile_to_closures(rule: str) -> None:
    assert rule_closure(rule) is not None


@pytest.mark.parametrize(
    "rule",
    [
        'customer.segment.matches("^p")',  # RE2 semantics: cel-python's
        '"a\\tb" == customer.segment',  # escapes: cel-python's
        '{"a": 1}.size() == 1',  # map literals
        "customer.age % 2 == 0",  # no `%` for decimals in CEL
    ],
)
def test_rules_outside_the_subset_run_in_cel(rule: str) -> None:
    assert rule_closure(rule) is None
    facts = random_facts(random.Random(1))
    assert outcome(lambda: evaluate_condition(rule, facts)) == outcome(
        lambda: condition_by_cel(rule, prepare(facts))
    )


def test_type_mix_gives_the_cel_error_not_a_guess() -> None:
    with pytest.raises(RuleError, match="no matching overload"):
        evaluate_condition("customer.vip == 1", {"customer": {"vip": True}})


def test_runaway_macros_are_stopped() -> None:
    many = {"holdings": [{"n": float(n)} for n in range(100)]}
    rule = "holdings.all(a, holdings.all(b, holdings.all(c, a.n + b.n + c.n >= 0.0)))"
    assert MAX_STEPS < 100**3
    with pytest.raises(RuleError, match="too expensive"):
        evaluate_condition(rule, many)
