"""The case life cycle as a picture, generated from the transitions declared on `Case`.

`python manage.py case_lifecycle_doc` writes docs/case-lifecycle.md; a test fails when the
file no longer matches the code.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import translation

from cases.models import Case, CaseState

DOC_PATH = "docs/case-lifecycle.md"


@dataclass(frozen=True)
class Edge:
    name: str
    source: str
    target: str
    permission: str
    needs: str
    conditions: tuple[str, ...]


def lifecycle_edges() -> list[Edge]:
    """Every declared transition, one edge per source state, in a stable order."""
    field = Case._meta.get_field("state")
    order = {state: index for index, state in enumerate(CaseState.values)}
    edges = [
        Edge(
            name=t.name,
            source=str(t.source),
            target=str(t.target),
            permission=str(t.permission or ""),
            needs=str(t.custom.get("required", "")),
            conditions=tuple(c.__name__ for c in t.conditions),
        )
        for t in field.get_all_transitions(Case)
    ]
    return sorted(edges, key=lambda e: (order[e.source], order[e.target], e.name))


@dataclass(frozen=True)
class EdgeRow:
    """One transition for the admins' page, with the labels in the user's language."""

    name: str
    label: str
    source: str
    target: str
    permission: str
    needs: str
    conditions: tuple[str, ...]


def lifecycle_rows() -> list[EdgeRow]:
    field = Case._meta.get_field("state")
    labels = {t.name: str(t.custom.get("label", t.name)) for t in field.get_all_transitions(Case)}
    return [
        EdgeRow(
            name=e.name,
            label=labels[e.name],
            source=CaseState(e.source).label,
            target=CaseState(e.target).label,
            permission=e.permission,
            needs=e.needs,
            conditions=e.conditions,
        )
        for e in lifecycle_edges()
    ]


def lifecycle_mermaid() -> str:
    """A Mermaid state diagram: GitHub and most Markdown viewers draw it."""
    lines = ["stateDiagram-v2", f"    [*] --> {CaseState.NEW}"]
    lines += [f"    {e.source} --> {e.target}: {e.name}" for e in lifecycle_edges()]
    lines += [f"    {state} --> [*]" for state in (CaseState.CLOSED, CaseState.CANCELLED)]
    return "\n".join(lines)


def lifecycle_markdown() -> str:
    with translation.override("en"):
        states = "\n".join(f"| `{s.value}` | {s.label} |" for s in CaseState)
        rows = "\n".join(
            f"| `{e.name}` | `{e.source}` | `{e.target}` | `{e.permission}` "
            f"| {e.needs or '-'} | {', '.join(e.conditions) or '-'} |"
            for e in lifecycle_edges()
        )
    return f"""# The case life cycle

Generated from the transitions on `cases.models.Case` by
`python manage.py case_lifecycle_doc`; do not edit by hand (a test checks it is current).

```mermaid
{lifecycle_mermaid()}
```

## States

| state | label |
|---|---|
{states}

## Transitions

Each row is one transition from one source state. Every transition is fired through
`cases.services.case_transition`, which checks the permission, the conditions and the
required text, saves (optimistic locking) and writes a `CaseEvent`.

| transition | from | to | permission | needs | conditions |
|---|---|---|---|---|---|
{rows}
"""
