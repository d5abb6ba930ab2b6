"""The graph layout and the pure edits of a draft, without a database."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from guidance.editing import spec_step_add, spec_step_move, spec_step_remove, spec_step_replace
from guidance.graph import graph_layout, layers
from guidance.process import RouteSpec, spec_from_yaml

PROCESSES = Path(__file__).resolve().parents[2] / "guidance" / "processes"


def load(key: str):
    return spec_from_yaml((PROCESSES / f"{key}.yaml").read_text())


def test_steps_are_layered_by_their_distance_from_the_start() -> None:
    assert layers(load("return-or-exchange")) == {
        "item": 0,
        "return": 1,
        "exchange": 1,
        "outside-window": 1,
        "done": 2,
    }


def test_the_graph_marks_unreachable_steps_loops_and_routes_to_nowhere() -> None:
    spec = load("complaint")
    goodwill = replace(
        spec.step("goodwill"),
        routes=(RouteSpec("capture", "answers.goodwill_amount > 500"), RouteSpec("nowhere")),
    )
    spec, _ = spec_step_add(spec_step_replace(spec, "goodwill", goodwill))
    graph = graph_layout(spec, "en")
    boxes = {box.key: box for box in graph.boxes}
    assert not boxes["step-4"].reachable and not boxes["close-complaint"].reachable
    assert boxes["step-4"].y > boxes["goodwill"].y
    edges = {(edge.source, edge.target): edge for edge in graph.edges}
    assert " C " in edges["goodwill", "capture"].path  # a loop back up is a curve
    assert edges["goodwill", "capture"].label == "answers.goodwill_amount…"
    assert edges["goodwill", "nowhere"].dangling
    assert all(0 <= box.x <= graph.width and 0 <= box.y <= graph.height for box in graph.boxes)


def test_an_empty_process_draws_an_empty_graph() -> None:
    spec = replace(load("complaint"), steps=())
    graph = graph_layout(spec, "de")
    assert graph.boxes == () and graph.edges == ()


def test_edits_return_new_specs_and_leave_the_old_one_alone() -> None:
    spec = load("complaint")
    added, key = spec_step_add(spec, after="capture")
    assert [s.key for s in added.steps] == ["capture", key, "goodwill", "close-complaint"]
    assert spec_step_move(added, "capture", -1) == added  # the first stays first
    assert [s.key for s in spec_step_move(added, key, -1).steps][:2] == [key, "capture"]
    assert [s.key for s in spec_step_remove(added, key).steps] == [s.key for s in spec.steps]
    renamed = spec_step_replace(spec, "goodwill", replace(spec.step("goodwill"), key="decide"))
    assert renamed.step("capture").routes[0].target == "decide"
    assert spec.step("capture").routes[0].target == "goodwill"


def test_a_route_within_a_layer_is_a_straight_arrow_between_the_boxes() -> None:
    graph = graph_layout(load("billing-question"), "en")
    boxes = {box.key: box for box in graph.boxes}
    assert boxes["correction"].y == boxes["payment-method"].y
    edge = next(e for e in graph.edges if (e.source, e.target) == ("correction", "payment-method"))
    assert " C " not in edge.path
