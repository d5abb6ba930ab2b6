"""A process drawn as a graph: steps as boxes in layers by distance from the start.

The layout is computed here as plain numbers; the template draws it as SVG. Layers are the
breadth-first distance from the start step; steps no route reaches go in a last layer.
Edges that go down are straight lines; edges that go up or stay in their layer (loops
back) are drawn as curves on the right, so they stay visible.
"""

from __future__ import annotations

from dataclasses import dataclass

from guidance.models import StepKind
from guidance.process import ProcessSpec

BOX_WIDTH = 184
BOX_HEIGHT = 38
COLUMN_GAP = 36
LAYER_GAP = 70
MARGIN = 14
LABEL_LENGTH = 24
TITLE_LENGTH = 23
KEY_LENGTH = 28


@dataclass(frozen=True)
class Box:
    key: str
    title: str
    caption: str  # key and kind, shortened to fit
    kind: str
    x: int
    y: int
    start: bool
    end: bool
    reachable: bool

    @property
    def cx(self) -> int:
        return self.x + BOX_WIDTH // 2


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    path: str  # SVG path data
    label: str  # shortened condition; "" for the default route
    condition: str  # the whole condition, for the tooltip
    label_x: int
    label_y: int
    default: bool
    dangling: bool  # leads to no step


@dataclass(frozen=True)
class Graph:
    boxes: tuple[Box, ...]
    edges: tuple[Edge, ...]
    width: int
    height: int
    box_width: int = BOX_WIDTH
    box_height: int = BOX_HEIGHT


def shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def distances(spec: ProcessSpec) -> dict[str, int]:
    """Each reachable step's distance (in routes) from the start."""
    if not spec.steps:
        return {}
    keys = {step.key for step in spec.steps}
    depth = {spec.start.key: 0}
    queue = [spec.start.key]
    while queue:
        key = queue.pop(0)
        for route in spec.step(key).routes:
            if route.target in keys and route.target not in depth:
                depth[route.target] = depth[key] + 1
                queue.append(route.target)
    return depth


def layers(spec: ProcessSpec) -> dict[str, int]:
    """The layer of each step; steps no route reaches go one layer below all others."""
    depth = distances(spec)
    last = max(depth.values(), default=-1) + 1
    return {step.key: depth.get(step.key, last) for step in spec.steps}


def graph_layout(spec: ProcessSpec, language: str) -> Graph:
    depth = layers(spec)
    reached = distances(spec)
    rows: dict[int, list[str]] = {}
    for step in spec.steps:  # in step order, so a layer reads like the step list
        rows.setdefault(depth[step.key], []).append(step.key)
    widest = max((len(row) for row in rows.values()), default=1)
    inner_width = widest * BOX_WIDTH + (widest - 1) * COLUMN_GAP
    boxes: dict[str, Box] = {}
    for layer, row in rows.items():
        row_width = len(row) * BOX_WIDTH + (len(row) - 1) * COLUMN_GAP
        left = MARGIN + (inner_width - row_width) // 2
        for column, key in enumerate(row):
            step = spec.step(key)
            boxes[key] = Box(
                key=key,
                title=shorten(step.title(language), TITLE_LENGTH),
                caption=shorten(f"{key} · {step.kind}", KEY_LENGTH),
                kind=step.kind,
                x=left + column * (BOX_WIDTH + COLUMN_GAP),
                y=MARGIN + layer * (BOX_HEIGHT + LAYER_GAP),
                start=key == spec.start.key,
                end=step.kind == StepKind.END,
                reachable=key in reached,
            )
    loop_x = MARGIN + inner_width + 24
    edges, labels_into = [], dict.fromkeys(boxes, 0)
    for step in spec.steps:
        for n, route in enumerate(step.routes):
            target = boxes.get(route.target)
            stack = labels_into.get(route.target, 0)
            edges.append(
                edge_draw(boxes[step.key], target, route.target, route.condition, n, loop_x, stack)
            )
            if route.condition and target is not None:
                labels_into[route.target] = stack + 1
    height = MARGIN * 2 + (max(rows, default=0) + 1) * (BOX_HEIGHT + LAYER_GAP) - LAYER_GAP
    has_loops = any(" C " in edge.path for edge in edges)
    width = MARGIN * 2 + inner_width + (120 if has_loops else 0)
    return Graph(tuple(boxes.values()), tuple(edges), width, height)


def edge_draw(
    source: Box,
    target: Box | None,
    target_key: str,
    condition: str,
    index: int,
    loop_x: int,
    stack: int,
) -> Edge:
    """One route as a path; its condition is written just above the target box (stacked when
    several labelled routes lead to one step), where boxes and so labels are apart."""
    label = shorten(condition, LABEL_LENGTH)
    start_x, start_y = source.cx + (index % 3 - 1) * 12, source.y + BOX_HEIGHT
    if target is None:  # a dangling route: a short stub that ends in the void
        end_y = start_y + LAYER_GAP // 2
        path = f"M {start_x} {start_y} L {start_x} {end_y}"
        return Edge(
            source.key, target_key, path, label, condition, start_x, end_y + 10, not condition, True
        )
    if target.y > source.y:  # downwards: a straight line into the top of the target
        end_x, end_y = target.cx, target.y
        path = f"M {start_x} {start_y} L {end_x} {end_y}"
        label_x, label_y = end_x, end_y - 12 - 12 * stack
    elif target.y == source.y:  # within a layer: a straight arrow side to side
        forward = target.x > source.x
        start_x = source.x + BOX_WIDTH if forward else source.x
        end_x = target.x if forward else target.x + BOX_WIDTH
        start_y = end_y = source.y + BOX_HEIGHT // 2 + 6
        path = f"M {start_x} {start_y} L {end_x} {end_y}"
        label_x, label_y = (start_x + end_x) // 2, start_y - 6
    else:  # back up (a loop): a curve out to the right and into the target's right side
        start_x, start_y = source.x + BOX_WIDTH, source.y + BOX_HEIGHT // 2
        end_x, end_y = target.x + BOX_WIDTH, target.y + BOX_HEIGHT // 2 + 6
        bend = max(loop_x, start_x + 40) + index * 10
        path = f"M {start_x} {start_y} C {bend} {start_y}, {bend} {end_y}, {end_x} {end_y}"
        label_x, label_y = bend, (start_y + end_y) // 2
    return Edge(
        source.key, target.key, path, label, condition, label_x, label_y, not condition, False
    )
