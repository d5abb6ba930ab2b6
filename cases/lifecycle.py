"""The case life cycle as a picture, generated from the transitions declared on `Case`.

`python manage.py case_lifecycle_doc` writes docs/case-lifecycle.md; a test fails when the
file no longer matches the code.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import translation
from django_fsm import State, Transition

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


def targets_of(transition: Transition) -> list[str]:
    """The target, or every state a transition may return to (`unmerge`: the state before)."""
    if isinstance(transition.target, State):
        return [str(state) for state in transition.target.allowed_states]
    return [str(transition.target)]


def lifecycle_edges() -> list[Edge]:
    """Every declared transition, one edge per source state, in a stable order."""
    field = Case._meta.get_field("state")
    order = {state: index for index, state in enumerate(CaseState.values)}
    edges = [
        Edge(
            name=t.name,
            source=str(t.source),
            target=str(target),
            permission=str(t.permission or ""),
            needs=str(t.custom.get("required", "")),
            conditions=tuple(c.__name__ for c in t.conditions),
        )
        for t in field.get_all_transitions(Case)
        for target in targets_of(t)
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

Each row is one transition from one source state. Every transition but `merge` and
`unmerge` (see below) is fired through `cases.services.case_transition`, which checks the
permission, the conditions and the required text, saves (optimistic locking) and writes a
`CaseEvent`. `unmerge` returns the case to the state it had before its merge.

| transition | from | to | permission | needs | conditions |
|---|---|---|---|---|---|
{rows}

## Merging a duplicate

`merge` and `unmerge` are not fired through `case_transition` and have no buttons of their
own in the actions bar: the case screen's "Merge into another case" form calls
`cases.services.case_merge` and the "Undo merge" button `cases.services.case_unmerge`,
which fire these transitions with both cases locked (`select_for_update`, in primary-key
order) and record a `CaseMerge`.

- **Merge** (agents, supervisors and admins; an escalated duplicate: supervisors and
  admins): the duplicate's contacts (`Interaction.case_reference`, through
  `customers.services.interactions_refile`) and intake messages move to the target, the
  duplicate closes with the resolution "Merged into C-…", the pair is linked as
  `duplicate`, and both cases get an event. Refused: the case itself, another customer's
  case, a closed, cancelled or merged target, a duplicate that holds merged cases, and a
  duplicate with an exception or a guided step waiting for a supervisor's decision (decide
  it first). A guided run in progress on the duplicate ends as abandoned, with a step
  record that names the case it was merged into (an undo does not restart it). On the
  kept case, supervisors find an *Undo merge* button beside each case merged into it.
- **Undo merge** (`cases.undo_casemerge`: supervisors and admins): the duplicate returns to
  the state, resolution and SLA clock it had; exactly the contacts and messages that the
  merge moved go back (ones recorded on the target since stay there); the link is removed
  or gets its old kind back; both cases get an event.
"""
