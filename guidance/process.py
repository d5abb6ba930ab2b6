"""A process as plain data: load it from the database, read and write it as YAML, check it.

`ProcessSpec` is what the engine, the editor's checks and the YAML files share. It knows
no database and no case.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

from guidance.facts import FACT_SAMPLES, answer_sample
from guidance.models import ActionKind, FieldType, ProcessVersion, StepKind
from guidance.rules import FactSchema, RuleError, check_rule

KEY_MAX = 60
MAX_STEPS = 200
ACTION_PARAMS = {
    ActionKind.TRANSITION: ["transition"],
    ActionKind.UPDATE_CUSTOMER: ["target"],
    ActionKind.SEND_MESSAGE: ["template"],
    ActionKind.FOLLOW_UP: ["subject"],
    ActionKind.SET_CASE_FIELD: ["field", "value"],
    ActionKind.FLAG_EXCEPTION: ["reason"],
}


class ProcessFormatError(ValueError):
    """A process document that is not shaped as a process; `problems` names each place."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class FieldSpec:
    key: str
    type: str
    label_de: str
    label_en: str
    required: bool = True
    choices: tuple[str, ...] = ()
    min_value: Decimal | None = None
    max_value: Decimal | None = None
    max_length: int | None = None


@dataclass(frozen=True)
class RouteSpec:
    target: str
    condition: str = ""


@dataclass(frozen=True)
class ActionSpec:
    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)
    condition: str = ""


@dataclass(frozen=True)
class StepSpec:
    key: str
    kind: str
    title_de: str
    title_en: str
    instruction_de: str = ""
    instruction_en: str = ""
    fields: tuple[FieldSpec, ...] = ()
    routes: tuple[RouteSpec, ...] = ()
    actions: tuple[ActionSpec, ...] = ()

    def title(self, language: str) -> str:
        return (self.title_de if language == "de" else self.title_en) or self.title_en

    def instruction(self, language: str) -> str:
        text = self.instruction_de if language == "de" else self.instruction_en
        return text or self.instruction_en or self.instruction_de


@dataclass(frozen=True)
class ProcessSpec:
    key: str
    name_de: str
    name_en: str
    steps: tuple[StepSpec, ...]
    description: str = ""

    @property
    def start(self) -> StepSpec:
        return self.steps[0]

    def step(self, key: str) -> StepSpec:
        for step in self.steps:
            if step.key == key:
                return step
        raise KeyError(key)

    def field_specs(self) -> Iterable[FieldSpec]:
        for step in self.steps:
            yield from step.fields


@dataclass(frozen=True)
class Problem:
    step: str  # empty for the process as a whole
    message: str

    def __str__(self) -> str:
        return f"{self.step}: {self.message}" if self.step else self.message


# --- the database -------------------------------------------------------------------


def spec_load(version: ProcessVersion) -> ProcessSpec:
    """The version as a spec, in four queries whatever its size."""
    steps = version.steps.prefetch_related("fields", "routes", "actions").order_by("position")
    return ProcessSpec(
        key=version.definition.key,
        name_de=version.definition.name_de,
        name_en=version.definition.name_en,
        description=version.definition.description,
        steps=tuple(
            StepSpec(
                key=step.key,
                kind=step.kind,
                title_de=step.title_de,
                title_en=step.title_en,
                instruction_de=step.instruction_de,
                instruction_en=step.instruction_en,
                fields=tuple(
                    FieldSpec(
                        key=f.key,
                        type=f.type,
                        label_de=f.label_de,
                        label_en=f.label_en,
                        required=f.required,
                        choices=tuple(f.choices or ()),
                        min_value=f.min_value,
                        max_value=f.max_value,
                        max_length=f.max_length,
                    )
                    for f in step.fields.all()
                ),
                routes=tuple(
                    RouteSpec(target=r.target, condition=r.condition) for r in step.routes.all()
                ),
                actions=tuple(
                    ActionSpec(kind=a.kind, params=dict(a.params), condition=a.condition)
                    for a in step.actions.all()
                ),
            )
            for step in steps
        ),
    )


# --- YAML ---------------------------------------------------------------------------


def spec_to_dict(spec: ProcessSpec) -> dict[str, Any]:
    def clean(value: Any) -> Any:
        if isinstance(value, Decimal):
            return float(value) if value % 1 else int(value)
        if isinstance(value, tuple | list):
            return [clean(v) for v in value]
        if isinstance(value, Mapping):
            return {k: clean(v) for k, v in value.items() if v not in ("", None, (), [], {})}
        return value

    return clean(dataclasses.asdict(spec))


def spec_to_yaml(spec: ProcessSpec) -> str:
    return yaml.safe_dump(spec_to_dict(spec), allow_unicode=True, sort_keys=False, width=100)


def spec_from_yaml(text: str) -> ProcessSpec:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ProcessFormatError([f"The YAML cannot be read{where}."]) from None
    return spec_from_dict(data)


class Reader:
    """Reads a nested document, collecting every problem with its path."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def text(self, data: Mapping, name: str, path: str, *, required: bool = True, limit=200):
        value = data.get(name, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            self.problems.append(f"{path}.{name} must be text")
            return ""
        if required and not value.strip():
            self.problems.append(f"{path}.{name} is required")
        if len(value) > limit:
            self.problems.append(f"{path}.{name} is longer than {limit} characters")
        return value

    def key(self, data: Mapping, name: str, path: str) -> str:
        value = self.text(data, name, path, limit=KEY_MAX)
        if value and not value.replace("-", "").replace("_", "").isalnum():
            self.problems.append(f"{path}.{name} may hold only letters, digits, - and _")
        return value

    def choice(self, data: Mapping, name: str, path: str, allowed: Iterable[str]) -> str:
        value = self.text(data, name, path, limit=40)
        allowed = list(allowed)
        if value and value not in allowed:
            self.problems.append(f"{path}.{name} must be one of {', '.join(allowed)}")
        return value

    def items(self, data: Mapping, name: str, path: str) -> list[Mapping]:
        value = data.get(name) or []
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            self.problems.append(f"{path}.{name} must be a list of mappings")
            return []
        return value

    def number(self, data: Mapping, name: str, path: str) -> Decimal | None:
        value = data.get(name)
        if value is None or value == "":
            return None
        try:
            return Decimal(str(value))
        except InvalidOperation:
            self.problems.append(f"{path}.{name} must be a number")
            return None


def spec_from_dict(data: Any) -> ProcessSpec:
    """Build a spec from parsed YAML/JSON; raises ProcessFormatError naming every problem."""
    if not isinstance(data, Mapping):
        raise ProcessFormatError(["The document must be a mapping with key, names and steps."])
    read = Reader()
    steps = read.items(data, "steps", "process")
    if len(steps) > MAX_STEPS:
        read.problems.append(f"process.steps: at most {MAX_STEPS} steps")
        steps = steps[:MAX_STEPS]
    spec = ProcessSpec(
        key=read.key(data, "key", "process"),
        name_de=read.text(data, "name_de", "process"),
        name_en=read.text(data, "name_en", "process"),
        description=read.text(data, "description", "process", required=False, limit=5000),
        steps=tuple(step_from_dict(read, step, f"steps[{n}]") for n, step in enumerate(steps)),
    )
    if read.problems:
        raise ProcessFormatError(read.problems)
    return spec


def step_from_dict(read: Reader, data: Mapping, path: str) -> StepSpec:
    return StepSpec(
        key=read.key(data, "key", path),
        kind=read.choice(data, "kind", path, StepKind.values),
        title_de=read.text(data, "title_de", path),
        title_en=read.text(data, "title_en", path),
        instruction_de=read.text(data, "instruction_de", path, required=False, limit=20000),
        instruction_en=read.text(data, "instruction_en", path, required=False, limit=20000),
        fields=tuple(
            FieldSpec(
                key=read.key(f, "key", f"{path}.fields[{n}]"),
                type=read.choice(f, "type", f"{path}.fields[{n}]", FieldType.values),
                label_de=read.text(f, "label_de", f"{path}.fields[{n}]"),
                label_en=read.text(f, "label_en", f"{path}.fields[{n}]"),
                required=bool(f.get("required", True)),
                choices=tuple(str(c) for c in (f.get("choices") or [])),
                min_value=read.number(f, "min_value", f"{path}.fields[{n}]"),
                max_value=read.number(f, "max_value", f"{path}.fields[{n}]"),
                max_length=int(f["max_length"]) if str(f.get("max_length", "")).isdigit() else None,
            )
            for n, f in enumerate(read.items(data, "fields", path))
        ),
        routes=tuple(
            RouteSpec(
                target=read.key(r, "target", f"{path}.routes[{n}]"),
                condition=read.text(
                    r, "condition", f"{path}.routes[{n}]", required=False, limit=2000
                ),
            )
            for n, r in enumerate(read.items(data, "routes", path))
        ),
        actions=tuple(
            ActionSpec(
                kind=read.choice(a, "kind", f"{path}.actions[{n}]", ActionKind.values),
                params=dict(a.get("params") or {}),
                condition=read.text(
                    a, "condition", f"{path}.actions[{n}]", required=False, limit=2000
                ),
            )
            for n, a in enumerate(read.items(data, "actions", path))
        ),
    )


# --- checks -------------------------------------------------------------------------


def fact_schema(spec: ProcessSpec) -> FactSchema:
    answers = {f.key: answer_sample(f.type) for f in spec.field_specs()}
    return FactSchema({**FACT_SAMPLES, "answers": answers})


def spec_check(spec: ProcessSpec) -> list[Problem]:
    """Everything that would stop an agent: empty process, dangling routes, traps, bad rules."""
    if not spec.steps:
        return [Problem("", "The process has no steps.")]
    problems = keys_check(spec)
    schema = fact_schema(spec)
    for step in spec.steps:
        problems.extend(step_check(spec, step, schema))
    if not problems:
        problems.extend(paths_check(spec))
    return problems


def keys_check(spec: ProcessSpec) -> list[Problem]:
    problems, seen = [], set()
    for step in spec.steps:
        if step.key in seen:
            problems.append(Problem(step.key, "Two steps have this key."))
        seen.add(step.key)
        field_keys = [f.key for f in step.fields]
        for key in {k for k in field_keys if field_keys.count(k) > 1}:
            problems.append(Problem(step.key, f"Two fields have the key “{key}”."))
    all_fields = [f.key for f in spec.field_specs()]
    for key in sorted({k for k in all_fields if all_fields.count(k) > 1}):
        problems.append(Problem("", f"The field key “{key}” is used in more than one step."))
    return problems


def step_check(spec: ProcessSpec, step: StepSpec, schema: FactSchema) -> list[Problem]:
    problems = []
    keys = {s.key for s in spec.steps}
    if step.kind == StepKind.END and step.routes:
        problems.append(Problem(step.key, "An end step has no routes."))
    if step.kind != StepKind.END:
        if not step.routes:
            problems.append(Problem(step.key, "The step leads nowhere: add a route."))
        elif step.routes[-1].condition.strip():
            problems.append(
                Problem(step.key, "The last route needs no condition: it is the default.")
            )
    for route in step.routes:
        if route.target not in keys:
            problems.append(Problem(step.key, f"A route leads to “{route.target}”, no such step."))
    for condition in [r.condition for r in step.routes] + [a.condition for a in step.actions]:
        if condition.strip():
            try:
                check_rule(condition, schema)
            except RuleError as error:
                problems.append(Problem(step.key, str(error)))
    answer_keys = {f.key for f in spec.field_specs()}
    for action in step.actions:
        for value in action.params.values():
            root, _, name = str(value).partition(".")
            if root == "answers" and name and name not in answer_keys:
                problems.append(Problem(step.key, f"The action uses “{value}”, no such field."))
        for param in ACTION_PARAMS.get(ActionKind(action.kind), []):
            if not str(action.params.get(param, "")).strip():
                problems.append(Problem(step.key, f"The action “{action.kind}” needs “{param}”."))
    for spec_field in step.fields:
        if spec_field.type == FieldType.CHOICE and not spec_field.choices:
            problems.append(
                Problem(step.key, f"The choice field “{spec_field.key}” has no choices.")
            )
    return problems


def paths_check(spec: ProcessSpec) -> list[Problem]:
    """Every step reachable from the start, and an end reachable from every step."""
    graph = {step.key: [route.target for route in step.routes] for step in spec.steps}
    reachable = walk(spec.start.key, graph)
    problems = [
        Problem(step.key, "No route leads to this step.")
        for step in spec.steps
        if step.key not in reachable
    ]
    ends = {step.key for step in spec.steps if step.kind == StepKind.END}
    if not ends:
        return [*problems, Problem("", "The process has no end step.")]
    for step in spec.steps:
        if not walk(step.key, graph) & ends:
            problems.append(
                Problem(step.key, "From here no path reaches an end: a cycle without exit.")
            )
    return problems


def walk(start: str, graph: Mapping[str, list[str]]) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        key = todo.pop()
        if key not in seen:
            seen.add(key)
            todo.extend(graph.get(key, []))
    return seen
