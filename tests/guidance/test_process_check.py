"""A process with a mistake is refused at publish with a message naming the step."""

from __future__ import annotations

from pathlib import Path

import pytest

from guidance.process import (
    ProcessFormatError,
    spec_check,
    spec_from_dict,
    spec_from_yaml,
    spec_to_yaml,
)

DEMO = sorted((Path(__file__).resolve().parents[2] / "guidance" / "processes").glob("*.yaml"))


def process(*steps: dict) -> dict:
    return {"key": "p", "name_de": "P", "name_en": "P", "steps": list(steps)}


def step(key: str, kind: str = "form", routes=(), **extra) -> dict:
    return {
        "key": key,
        "kind": kind,
        "title_de": key,
        "title_en": key,
        "routes": list(routes),
        **extra,
    }


END = step("end", "end")


def problems_of(data: dict) -> list[str]:
    return [str(p) for p in spec_check(spec_from_dict(data))]


@pytest.mark.parametrize("path", DEMO, ids=lambda p: p.stem)
def test_demo_processes_are_valid_and_round_trip_through_yaml(path: Path) -> None:
    spec = spec_from_yaml(path.read_text())
    assert spec_check(spec) == []
    assert spec_from_yaml(spec_to_yaml(spec)) == spec


def test_a_good_process_has_no_problems() -> None:
    assert problems_of(process(step("a", routes=[{"target": "end"}]), END)) == []


def test_route_to_nowhere() -> None:
    problems = problems_of(process(step("a", routes=[{"target": "moon"}]), END))
    assert problems == ["a: A route leads to “moon”, no such step."]


def test_step_without_routes_leads_nowhere() -> None:
    assert "a: The step leads nowhere: add a route." in problems_of(process(step("a"), END))


def test_last_route_must_be_the_default() -> None:
    data = process(step("a", routes=[{"target": "end", "condition": "true"}]), END)
    assert problems_of(data) == ["a: The last route needs no condition: it is the default."]


def test_cycle_without_exit() -> None:
    data = process(
        step("a", routes=[{"target": "b"}]),
        step("b", routes=[{"target": "end", "condition": "false"}, {"target": "a"}]),
        END,
    )
    assert problems_of(data) == []  # b can reach the end
    trap = process(
        step("a", routes=[{"target": "b"}]),
        step("b", routes=[{"target": "a"}]),
        END,
    )
    assert "a: From here no path reaches an end: a cycle without exit." in problems_of(trap)
    assert "end: No route leads to this step." in problems_of(trap)


def test_unknown_name_in_a_route_names_the_step_and_the_name() -> None:
    data = process(
        step(
            "a",
            fields=[{"key": "amount", "type": "money", "label_de": "B", "label_en": "A"}],
            routes=[{"target": "end", "condition": "answers.amout > 50"}, {"target": "end"}],
        ),
        END,
    )
    (problem,) = problems_of(data)
    assert problem.startswith("a: Unknown name “answers.amout”")


def test_hostile_rule_is_a_problem_not_a_crash() -> None:
    data = process(
        step("a", routes=[{"target": "end", "condition": "().__class__"}, {"target": "end"}]), END
    )
    assert "cannot be read" in problems_of(data)[0]


def test_action_without_its_parameter() -> None:
    data = process(step("a", routes=[{"target": "end"}], actions=[{"kind": "flag_exception"}]), END)
    assert problems_of(data) == ["a: The action “flag_exception” needs “reason”."]


def test_end_step_is_required() -> None:
    assert problems_of(process(step("a", routes=[{"target": "a"}]))) == [
        "The process has no end step."
    ]


def test_malformed_documents_name_every_place() -> None:
    with pytest.raises(ProcessFormatError) as caught:
        spec_from_dict({"key": "bad key!", "steps": [{"kind": "dance"}]})
    problems = caught.value.problems
    assert "process.key may hold only letters, digits, - and _" in problems
    assert "process.name_de is required" in problems
    assert any(p.startswith("steps[0].kind must be one of") for p in problems)
    assert "steps[0].key is required" in problems


def test_broken_yaml_is_a_format_error() -> None:
    with pytest.raises(ProcessFormatError, match="cannot be read"):
        spec_from_yaml("key: [unclosed")
    with pytest.raises(ProcessFormatError, match="must be a mapping"):
        spec_from_yaml("- just a list")
