"""Edits of a draft as pure functions on a ProcessSpec: each returns a new spec.

The editor's views build the changed spec with these and save it whole with
`services.draft_save`, so a change is either saved complete or not at all.
"""

from __future__ import annotations

from dataclasses import replace

from guidance.models import StepKind
from guidance.process import ProcessSpec, StepSpec


def step_index(spec: ProcessSpec, key: str) -> int:
    for index, step in enumerate(spec.steps):
        if step.key == key:
            return index
    raise KeyError(key)


def new_step_key(spec: ProcessSpec) -> str:
    keys = {step.key for step in spec.steps}
    number = len(spec.steps) + 1
    while f"step-{number}" in keys:
        number += 1
    return f"step-{number}"


def spec_step_add(spec: ProcessSpec, *, after: str = "") -> tuple[ProcessSpec, str]:
    """A new instruction step after `after` (or at the end); returns the spec and its key."""
    key = new_step_key(spec)
    step = StepSpec(
        key=key, kind=StepKind.INSTRUCTION, title_de="Neuer Schritt", title_en="New step"
    )
    position = step_index(spec, after) + 1 if after else len(spec.steps)
    steps = (*spec.steps[:position], step, *spec.steps[position:])
    return replace(spec, steps=steps), key


def spec_step_remove(spec: ProcessSpec, key: str) -> ProcessSpec:
    """Without the step; routes that led to it stay, so the draft's problems name them."""
    index = step_index(spec, key)
    return replace(spec, steps=spec.steps[:index] + spec.steps[index + 1 :])


def spec_step_move(spec: ProcessSpec, key: str, offset: int) -> ProcessSpec:
    """The step moved up (-1) or down (+1); at either end nothing changes."""
    index = step_index(spec, key)
    target = index + offset
    if not 0 <= target < len(spec.steps):
        return spec
    steps = list(spec.steps)
    steps[index], steps[target] = steps[target], steps[index]
    return replace(spec, steps=tuple(steps))


def spec_step_replace(spec: ProcessSpec, key: str, step: StepSpec) -> ProcessSpec:
    """The step `key` replaced by `step`; a renamed step keeps the routes that lead to it."""
    index = step_index(spec, key)
    steps = []
    for position, current in enumerate(spec.steps):
        current = step if position == index else current
        if step.key != key and any(route.target == key for route in current.routes):
            current = replace(
                current,
                routes=tuple(
                    replace(route, target=step.key) if route.target == key else route
                    for route in current.routes
                ),
            )
        steps.append(current)
    return replace(spec, steps=tuple(steps))
