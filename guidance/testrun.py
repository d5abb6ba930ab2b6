"""Test run of a draft: walk it with typed answers for a real customer, and write nothing.

The walk lives in a signed hidden field (no session, no rows), so any number of test runs
can be open side by side and a tampered walk is refused. Each taken step records which
route it took and which actions *would* run, with their parameters resolved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core import signing

from customers.models import Customer
from guidance.engine import action_params, step_advance
from guidance.facts import FACT_SAMPLES, customer_facts
from guidance.process import ProcessSpec
from guidance.rules import RuleError

SALT = "guidance.testrun"
MAX_TAKEN = 200


@dataclass(frozen=True)
class TakenStep:
    key: str
    answers: dict[str, Any]
    next_step: str | None
    route_condition: str
    actions: list[dict[str, Any]]  # {"kind": ..., "params": {...}}
    exception_reason: str


@dataclass(frozen=True)
class Walk:
    customer: str  # the customer number
    current: str | None  # None once an end step is done
    taken: tuple[TakenStep, ...] = ()

    @property
    def answers(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for step in self.taken:
            merged.update(step.answers)
        return merged


def run_facts(customer: Customer) -> dict[str, Any]:
    """The customer's own data and holdings; the case facts are samples (there is no case)."""
    return {**FACT_SAMPLES, **customer_facts(customer)}


def walk_dumps(walk: Walk) -> str:
    data = {
        "customer": walk.customer,
        "current": walk.current,
        "taken": [step.__dict__ for step in walk.taken],
    }
    return signing.dumps(data, salt=SALT, compress=True)


def walk_loads(token: str) -> Walk | None:
    """The walk from its hidden field; None when it was tampered with or is malformed."""
    try:
        data = signing.loads(token, salt=SALT)
        taken = tuple(TakenStep(**step) for step in data["taken"][:MAX_TAKEN])
        return Walk(customer=str(data["customer"]), current=data["current"], taken=taken)
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def walk_start(spec: ProcessSpec, customer: Customer) -> Walk:
    return Walk(customer=customer.number, current=spec.start.key if spec.steps else None)


def walk_step(
    spec: ProcessSpec, walk: Walk, customer: Customer, answers: dict[str, Any]
) -> tuple[Walk, str]:
    """Complete the current step with its answers; returns the new walk and an error, if any.

    A rule that fails at run time does not move the walk on; its message is the error.
    """
    facts = {**run_facts(customer), "answers": {**walk.answers, **answers}}
    try:
        advance = step_advance(spec, walk.current or "", facts)
    except (RuleError, KeyError) as error:
        return walk, str(error.args[0] if isinstance(error, KeyError) else error)
    taken = TakenStep(
        key=walk.current or "",
        answers=answers,
        next_step=advance.next_step,
        route_condition=advance.route_condition,
        actions=[{"kind": a.kind, "params": action_params(a, facts)} for a in advance.actions],
        exception_reason=advance.exception_reason,
    )
    return Walk(walk.customer, advance.next_step, (*walk.taken, taken)), ""
