"""The common shapes of CEL conditions compiled to Python closures: the fast path.

cel-python walks its parse tree for every evaluation; one `holdings.exists(...)` over 20
holdings costs milliseconds. The rules admins write use a small part of CEL (comparisons,
`&&`/`||`/`!`, field access, `in`, `size`, the list macros, a few string methods), so
`rule_closure` turns the parse tree that `rules.compile_rule` made (and checked for size
and nesting) into nested Python closures, once per rule text. No `eval`, no code
generation: each node becomes a small function over plain values.

The closures only answer when they are sure to agree with CEL. Anything outside that
subset (a type mix such as `true == 1`, a missing key, a string escape, `matches`, a map
literal) either is refused when compiling (`None`: the rule always runs in cel-python) or
raises `Fallback` while evaluating, and the caller then asks cel-python, whose answer
(or error message) is authoritative. `tests/guidance/test_rule_closures.py` compares both
over thousands of generated rules and facts.

Facts are plain values as `rules.as_decimals` makes them: None, bool, float, str, dict,
list. Numbers are all floats there, and `compile_rule` made every number literal a float
(but list indexes), exactly as cel-python sees them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from lark import Token, Tree

Env = dict[str, Any]
Closure = Callable[[Env], Any]

MAX_STEPS = 200_000  # macro iterations per evaluation; far above any real rule
STEPS = " steps"  # a key no CEL identifier can have: the per-evaluation counter
COMPARE = {
    "relation_lt": lambda a, b: a < b,
    "relation_le": lambda a, b: a <= b,
    "relation_gt": lambda a, b: a > b,
    "relation_ge": lambda a, b: a >= b,
}
SCALARS = (bool, float, str, type(None))
INFINITY = float("inf")
STRING_METHODS = {
    "startsWith": str.startswith,
    "endsWith": str.endswith,
    "contains": str.__contains__,
}


class Fallback(Exception):
    """This evaluation is outside what the closures are sure of: ask cel-python."""


class Unsupported(Exception):
    """This rule uses something the closures do not cover: cel-python evaluates it."""


class TooExpensive(Exception):
    """The macros iterated more than MAX_STEPS times."""


def kind(value: Any) -> type:
    kind_ = type(value)
    if kind_ not in SCALARS:
        raise Fallback
    return kind_


def same_kind(a: Any, b: Any) -> None:
    if kind(a) is not kind(b):
        raise Fallback


def boolean(value: Any) -> bool:
    if type(value) is not bool:
        raise Fallback
    return value


def number(value: Any) -> float:
    if type(value) is not float:
        raise Fallback
    return value


def finite(value: float) -> float:
    if value in (INFINITY, -INFINITY):
        raise Fallback  # an overflow: cel-python's own rules apply
    return value


def sized(value: Any) -> float:
    if type(value) not in (str, list, dict):
        raise Fallback
    return float(len(value))


@functools.lru_cache(maxsize=4096)
def rule_closure(text: str) -> Closure | None:
    """The closure for a rule text, or None when the rule needs cel-python."""
    from guidance.rules import RuleError, compile_rule

    try:
        _, tree = compile_rule(text)
        return build(tree)
    except (Unsupported, RuleError, RecursionError):
        return None


def run(closure: Closure, facts: Env) -> Any:
    """Evaluate over plain facts; raises Fallback, or TooExpensive."""
    try:
        return closure({**facts, STEPS: [0]})
    except (Fallback, TooExpensive):
        raise
    except Exception:  # anything unforeseen (a RecursionError, ...): cel-python decides
        raise Fallback from None


def build(node: Any) -> Closure:
    if not isinstance(node, Tree):
        raise Unsupported
    handler = HANDLERS.get(str(node.data))
    if handler is None:
        raise Unsupported
    return handler(node.children)


def passthrough(children: list) -> Closure:
    if len(children) != 1:
        raise Unsupported
    return build(children[0])


def expr(children: list) -> Closure:
    if len(children) == 1:
        return build(children[0])
    if len(children) != 3:
        raise Unsupported
    test, then, other = (build(child) for child in children)
    return lambda env: then(env) if boolean(test(env)) else other(env)


def conditional_or(children: list) -> Closure:
    if len(children) == 1:
        return build(children[0])
    left, right = build(children[0]), build(children[1])

    def either(env: Env) -> bool:
        a, b = boolean(left(env)), boolean(right(env))  # both: see `conditional_and`
        return a or b

    return either


def conditional_and(children: list) -> Closure:
    if len(children) == 1:
        return build(children[0])
    left, right = build(children[0]), build(children[1])

    def both(env: Env) -> bool:
        # No short cut: cel-python evaluates both sides and some of its errors (inside
        # `map`, `filter`, `exists_one`) escape `false && ...`; so an answer is only given
        # when neither side needs cel-python.
        a, b = boolean(left(env)), boolean(right(env))
        return a and b

    return both


def relation(children: list) -> Closure:
    if len(children) == 1:
        return build(children[0])
    operator, right_node = children
    if not isinstance(operator, Tree) or len(operator.children) != 1:
        raise Unsupported
    left, right = build(operator.children[0]), build(right_node)
    name = str(operator.data)
    if name in ("relation_eq", "relation_ne"):
        negate = name == "relation_ne"

        def equal(env: Env) -> bool:
            a, b = left(env), right(env)
            same_kind(a, b)
            return (a == b) is not negate

        return equal
    if name in COMPARE:
        compare = COMPARE[name]

        def ordered(env: Env) -> bool:
            a, b = left(env), right(env)
            same_kind(a, b)
            if type(a) not in (float, str):
                raise Fallback
            return compare(a, b)

        return ordered
    if name == "relation_in":
        return member_of(left, right)
    raise Unsupported


def member_of(left: Closure, right: Closure) -> Closure:
    def within(env: Env) -> bool:
        item, container = left(env), right(env)
        if type(container) is list:
            found = False
            for element in container:
                same_kind(item, element)
                found = found or item == element
            return found
        if type(container) is dict and type(item) is str:
            return item in container
        raise Fallback

    return within


def addition(children: list) -> Closure:
    if len(children) == 1:
        return build(children[0])
    operator, right_node = children
    left, right = build(operator.children[0]), build(right_node)
    if operator.data == "addition_add":
        # Numbers only: cel-python's text and list concatenations have quirks of their own
        # (a joined text has no methods), so those run there.
        return lambda env: finite(number(left(env)) + number(right(env)))
    if operator.data == "addition_sub":
        return lambda env: finite(number(left(env)) - number(right(env)))
    raise Unsupported


def multiplication(children: list) -> Closure:
    if len(children) == 1:
        return build(children[0])
    operator, right_node = children
    left, right = build(operator.children[0]), build(right_node)
    if operator.data == "multiplication_mul":
        return lambda env: finite(number(left(env)) * number(right(env)))
    if operator.data == "multiplication_div":

        def divide(env: Env) -> float:
            a, b = number(left(env)), number(right(env))
            if b == 0.0:
                raise Fallback
            return finite(a / b)

        return divide
    raise Unsupported  # `%` has no double overload in CEL


def unary(children: list) -> Closure:
    if len(children) == 1:
        return build(children[0])
    operator, operand_node = children
    operand = build(operand_node)
    if operator.data == "unary_not":
        return lambda env: not boolean(operand(env))
    if operator.data == "unary_neg":
        return lambda env: -number(operand(env))
    raise Unsupported


def member_dot(children: list) -> Closure:
    target, name = build(children[0]), str(children[1])

    def field(env: Env) -> Any:
        value = target(env)
        if type(value) is not dict or name not in value:
            raise Fallback
        return value[name]

    return field


def member_index(children: list) -> Closure:
    target, index = build(children[0]), build(children[1])

    def item(env: Env) -> Any:
        value, key = target(env), index(env)
        if type(value) is list and type(key) is int and 0 <= key < len(value):
            return value[key]
        if type(value) is dict and type(key) is str and key in value:
            return value[key]
        raise Fallback

    return item


def arguments(node: Any) -> list:
    if node is None:
        return []
    if not isinstance(node, Tree) or node.data != "exprlist":
        raise Unsupported
    return list(node.children)


def bound_name(node: Any) -> str:
    """The variable of a macro (`h` in `holdings.exists(h, ...)`): a bare identifier only."""
    from guidance.rules import ident_name

    while isinstance(node, Tree) and node.data in SHELL - {"member"} and len(node.children) == 1:
        node = node.children[0]
    name = ident_name(node)
    if not name:
        raise Unsupported
    return name


def member_dot_arg(children: list) -> Closure:
    target, method = build(children[0]), str(children[1])
    args = arguments(children[2] if len(children) > 2 else None)
    if method in MACROS and len(args) == 2:
        return MACROS[method](target, bound_name(args[0]), build(args[1]))
    if method == "size" and not args:
        return lambda env: sized(target(env))
    if method in STRING_METHODS and len(args) == 1:
        return string_method(STRING_METHODS[method], target, build(args[0]))
    raise Unsupported


def string_method(method: Callable[[str, str], bool], target: Closure, arg: Closure) -> Closure:
    def call(env: Env) -> bool:
        text, part = target(env), arg(env)
        if type(text) is not str or type(part) is not str:
            raise Fallback
        return method(text, part)

    return call


def items(target: Closure, env: Env) -> list:
    values = target(env)
    if type(values) is not list:
        raise Fallback  # a map iterates its keys in CEL: rare, let cel-python do it
    steps = env[STEPS]
    steps[0] += len(values)
    if steps[0] > MAX_STEPS:
        raise TooExpensive
    return values


def truths(target: Closure, name: str, body: Closure, env: Env) -> list[bool]:
    """The body for every item, no short cut (see `conditional_and`)."""
    return [boolean(body({**env, name: v})) for v in items(target, env)]


def exists(target: Closure, name: str, body: Closure) -> Closure:
    return lambda env: any(truths(target, name, body, env))


def every(target: Closure, name: str, body: Closure) -> Closure:
    return lambda env: all(truths(target, name, body, env))


def exists_one(target: Closure, name: str, body: Closure) -> Closure:
    def one(env: Env) -> bool:
        return sum(truths(target, name, body, env)) == 1

    return one


def select(target: Closure, name: str, body: Closure) -> Closure:
    return lambda env: [v for v in items(target, env) if boolean(body({**env, name: v}))]


def transform(target: Closure, name: str, body: Closure) -> Closure:
    return lambda env: [body({**env, name: v}) for v in items(target, env)]


MACROS: dict[str, Callable[[Closure, str, Closure], Closure]] = {
    "exists": exists,
    "all": every,
    "exists_one": exists_one,
    "filter": select,
    "map": transform,
}


def ident_arg(children: list) -> Closure:
    function = str(children[0])
    args = arguments(children[1] if len(children) > 1 else None)
    if function == "size" and len(args) == 1:
        value = build(args[0])
        return lambda env: sized(value(env))
    if function == "has" and len(args) == 1:
        return has(args[0])
    raise Unsupported


def has(node: Any) -> Closure:
    """`has(x.field)`: is the field present (cel-python answers true for a null value)."""
    while isinstance(node, Tree) and node.data in SHELL and len(node.children) == 1:
        node = node.children[0]
    if not isinstance(node, Tree) or node.data != "member_dot":
        raise Unsupported
    target, name = build(node.children[0]), str(node.children[1])

    def present(env: Env) -> bool:
        value = target(env)
        if type(value) is not dict:
            raise Fallback
        return name in value

    return present


SHELL = {"expr", "conditionalor", "conditionaland", "relation", "addition"}
SHELL |= {"multiplication", "unary", "member"}


def ident(children: list) -> Closure:
    name = str(children[0])

    def lookup(env: Env) -> Any:
        if name not in env:
            raise Fallback
        return env[name]

    return lookup


def list_lit(children: list) -> Closure:
    elements = [build(child) for child in arguments(children[0] if children else None)]
    return lambda env: [element(env) for element in elements]


def literal(children: list) -> Closure:
    token = children[0]
    if not isinstance(token, Token):
        raise Unsupported
    value = literal_value(token)
    return lambda env: value


def literal_value(token: Token) -> Any:
    text = str(token)
    if token.type == "FLOAT_LIT":
        return float(text)
    if token.type == "INT_LIT":
        return int(text, 0)  # only list indexes stay whole numbers (rules.decimal_literals)
    if token.type == "BOOL_LIT":
        return text == "true"
    if token.type == "NULL_LIT":
        return None
    if token.type == "STRING_LIT" and len(text) >= 2 and text[0] in "\"'" and "\\" not in text:
        return text[1:-1]
    raise Unsupported  # raw, escaped, multi-line and byte strings, unsigned numbers


HANDLERS: dict[str, Callable[[list], Closure]] = {
    "expr": expr,
    "conditionalor": conditional_or,
    "conditionaland": conditional_and,
    "relation": relation,
    "addition": addition,
    "multiplication": multiplication,
    "unary": unary,
    "member": passthrough,
    "primary": passthrough,
    "paren_expr": passthrough,
    "member_dot": member_dot,
    "member_index": member_index,
    "member_dot_arg": member_dot_arg,
    "ident_arg": ident_arg,
    "ident": ident,
    "list_lit": list_lit,
    "literal": literal,
}
