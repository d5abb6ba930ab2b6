"""The rule language: Common Expression Language (CEL), evaluated by cel-python.

CEL is made for exactly this (Kubernetes, Google APIs): no loops, no side effects, no
attribute access to Python internals, so an admin's rule can never run code. On top of it:
a size and nesting limit before parsing, a check that every name is one the facts have,
compiled programs cached by their text, and evaluation errors turned into `RuleError`.
Conditions run as Python closures compiled from the same parse tree where they are sure
to agree with cel-python (guidance/rule_closures.py), else in cel-python.

    answers.refund_amount > 50.0 && customer.segment == "premium"
    holdings.exists(h, h.payment_method == "bank_transfer")
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import celpy
from celpy import celtypes
from lark import Token, Tree

from guidance.rule_closures import Fallback, TooExpensive, rule_closure, run

MAX_LENGTH = 2000
MAX_NESTING = 24
MACROS = {"exists", "all", "exists_one", "map", "filter"}


class RuleError(ValueError):
    """A rule that cannot be compiled, names something unknown, or fails to evaluate."""


@dataclass(frozen=True)
class FactSchema:
    """The facts a rule may use, given as typed sample values.

    Each root (customer, case, answers ...) maps to a sample: a dict's keys are the fields
    a rule may name; any other sample (a list of holdings) may be used with any member.
    Checking a rule evaluates it once over the samples, which catches type mistakes such as
    comparing a decimal amount with a whole number (CEL wants `50.0`, not `50`).
    """

    samples: Mapping[str, Any]

    @property
    def roots(self) -> dict[str, frozenset[str] | None]:
        return {
            root: frozenset(sample) if isinstance(sample, Mapping) else None
            for root, sample in self.samples.items()
        }

    def describe(self) -> str:
        names = []
        for root, fields in sorted(self.roots.items()):
            names.extend([f"{root}.{f}" for f in sorted(fields)] if fields else [root])
        return ", ".join(names)


ENVIRONMENT = celpy.Environment()


def nesting_depth(text: str) -> int:
    depth = deepest = 0
    for char in text:
        if char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
    return deepest


@functools.lru_cache(maxsize=4096)
def compile_rule(text: str) -> tuple[Any, Tree]:
    """Parse and compile once per distinct text; raises RuleError with the position."""
    if len(text) > MAX_LENGTH:
        raise RuleError(f"The rule is too long ({len(text)} characters, at most {MAX_LENGTH}).")
    if nesting_depth(text) > MAX_NESTING:
        raise RuleError(f"The rule is nested too deeply (at most {MAX_NESTING} levels).")
    try:
        tree = ENVIRONMENT.compile(text)
    except celpy.CELParseError as error:
        first_line = str(error).splitlines()[0] if str(error) else text
        column = getattr(error, "column", None)
        where = f" at character {column}" if column else ""
        raise RuleError(f"The rule cannot be read{where}: {first_line}") from None
    except RecursionError:
        raise RuleError("The rule is nested too deeply.") from None
    decimal_literals(tree)
    return ENVIRONMENT.program(tree, functions={"size": decimal_size}), tree


def decimal_literals(tree: Tree) -> None:
    """Read every whole-number literal as a decimal (but list indexes), see `as_decimals`.

    CEL never compares an int with a double; admins should not have to know that.
    """
    skip = set()
    for node in tree.iter_subtrees():
        if node.data == "member_index":
            skip.update(id(sub) for sub in node.children[1].iter_subtrees())
    for node in tree.iter_subtrees():
        if node.data != "literal" or id(node) in skip:
            continue
        token = node.children[0]
        if isinstance(token, Token) and token.type == "INT_LIT":
            node.children[0] = Token("FLOAT_LIT", f"{int(token.value, 0)}.0")


def decimal_size(value: Any) -> celtypes.DoubleType:
    return celtypes.DoubleType(len(value))


def ident_name(node: Tree) -> str | None:
    """The identifier of a `member -> primary -> ident` chain, if that is what node is."""
    if isinstance(node, Tree) and node.data == "member" and len(node.children) == 1:
        return ident_name(node.children[0])
    if isinstance(node, Tree) and node.data == "primary" and len(node.children) == 1:
        child = node.children[0]
        if isinstance(child, Tree) and child.data == "ident":
            return str(child.children[0])
    return None


def bound_variables(tree: Tree) -> dict[str, str | None]:
    """Variables introduced by macros, like `h` in `holdings.exists(h, ...)`, with the root
    they range over (`holdings`), or None when the macro's target is not a plain root."""
    bound: dict[str, str | None] = {}
    for node in tree.iter_subtrees():
        if node.data != "member_dot_arg" or len(node.children) < 3:
            continue
        target, method, args = node.children
        if str(method) in MACROS and isinstance(args, Tree) and args.children:
            first = args.children[0]
            for sub in first.iter_subtrees():
                name = ident_name(sub)
                if name:
                    bound[name] = ident_name(target)
                    break
    return bound


def item_fields(schema: FactSchema, root: str | None) -> frozenset[str] | None:
    """The fields of one item of a list root (a holding's), from its sample."""
    sample = schema.samples.get(root) if root else None
    if isinstance(sample, list | tuple) and sample and isinstance(sample[0], Mapping):
        return frozenset(sample[0])
    return None


def used_names(tree: Tree) -> Iterable[tuple[str, str | None]]:
    """(root, member) pairs the rule reads; member is None for a bare identifier."""
    for node in tree.iter_subtrees():
        if node.data == "member_dot":
            root = ident_name(node.children[0])
            if root:
                yield root, str(node.children[1])
        elif node.data == "ident":
            yield str(node.children[0]), None


def check_rule(text: str, schema: FactSchema) -> None:
    """Raise RuleError if the rule cannot compile or names something the facts lack."""
    _, tree = compile_rule(text)
    bound = bound_variables(tree)
    for root, member in used_names(tree):
        if root in bound:
            fields = item_fields(schema, bound[root])
            if member is not None and fields is not None and member not in fields:
                known = ", ".join(f"{root}.{f}" for f in sorted(fields))
                raise RuleError(f"Unknown name “{root}.{member}”. Known names: {known}.")
            continue
        if root not in schema.roots:
            raise RuleError(f"Unknown name “{root}”. Known names: {schema.describe()}.")
        fields = schema.roots[root]
        if member is not None and fields is not None and member not in fields:
            raise RuleError(f"Unknown name “{root}.{member}”. Known names: {schema.describe()}.")
    check_types(text, schema)


def check_types(text: str, schema: FactSchema) -> None:
    """Evaluate over the samples; a missing overload means mixed types in the rule."""
    try:
        evaluate(text, schema.samples)
    except RuleError as error:
        if "no matching overload" in str(error):
            raise RuleError(
                "The rule mixes kinds of values (e.g. a decimal amount and a whole number: "
                "write 50.0, not 50, for amounts; or text compared with a number)."
            ) from None


def as_decimals(value: Any) -> Any:
    """Whole numbers in facts become decimals, so `amount > 50` and `> 50.0` both work."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, Mapping):
        return {key: as_decimals(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [as_decimals(item) for item in value]
    return value


def to_cel(value: Any) -> Any:
    return celpy.json_to_cel(as_decimals(value))


class Prepared:
    """Facts made ready once for evaluating many rules: plain decimals for the compiled
    closures, and CEL values (made on first need) for cel-python."""

    __slots__ = ("_cel", "plain")

    def __init__(self, facts: Mapping[str, Any]) -> None:
        self.plain: dict[str, Any] = {name: as_decimals(value) for name, value in facts.items()}
        self._cel: dict[str, Any] | None = None

    @property
    def cel(self) -> dict[str, Any]:
        if self._cel is None:
            self._cel = {name: celpy.json_to_cel(value) for name, value in self.plain.items()}
        return self._cel


def prepare(facts: Mapping[str, Any]) -> Prepared:
    """The facts, once, for evaluating many rules over the same facts."""
    return Prepared(facts)


def evaluate(text: str, facts: Mapping[str, Any]) -> Any:
    """Evaluate a rule over plain facts (dicts, lists, str, int, float, bool, None)."""
    return evaluate_prepared(text, prepare(facts))


def evaluate_prepared(text: str, prepared: Prepared) -> Any:
    """Evaluate a rule in cel-python over facts made ready by `prepare`."""
    program, _ = compile_rule(text)
    try:
        result = program.evaluate(dict(prepared.cel))
    except celpy.CELEvalError as error:
        raise RuleError(f"The rule failed: {error.args[0] if error.args else error}") from None
    except (RecursionError, MemoryError, OverflowError):
        raise RuleError("The rule is too expensive to evaluate.") from None
    if isinstance(result, celpy.CELEvalError):
        raise RuleError(f"The rule failed: {result.args[0] if result.args else result}")
    return result


def evaluate_condition(text: str, facts: Mapping[str, Any]) -> bool:
    """A condition must come out true or false; anything else is an error, not a guess."""
    return evaluate_prepared_condition(text, prepare(facts))


def evaluate_prepared_condition(text: str, prepared: Prepared) -> bool:
    """The compiled closure when it is sure of the answer, else cel-python (see
    guidance/rule_closures.py): the same answers, without walking the parse tree."""
    compile_rule(text)  # the size and nesting limits, and RuleError for a bad rule
    closure = rule_closure(text)
    if closure is not None:
        try:
            result = run(closure, prepared.plain)
        except Fallback:
            pass
        except TooExpensive:
            raise RuleError("The rule is too expensive to evaluate.") from None
        else:
            if type(result) is bool:
                return result
    return condition_by_cel(text, prepared)


def condition_by_cel(text: str, prepared: Prepared) -> bool:
    return condition_result(evaluate_prepared(text, prepared))


def condition_result(result: Any) -> bool:
    if not isinstance(result, celtypes.BoolType):
        raise RuleError(f"The condition gave {result!r}, not true or false.")
    return bool(result)
