from __future__ import annotations

from pathlib import Path

from cases.lifecycle import DOC_PATH, lifecycle_edges, lifecycle_markdown, lifecycle_mermaid

ROOT = Path(__file__).resolve().parents[2]


def test_lifecycle_doc_is_up_to_date() -> None:
    """If this fails, run `python manage.py case_lifecycle_doc` and commit the file."""
    assert (ROOT / DOC_PATH).read_text() == lifecycle_markdown()


def test_diagram_has_an_edge_for_every_transition_and_source() -> None:
    diagram = lifecycle_mermaid()
    assert "    resolved --> open: reopen" in diagram
    assert "    escalated --> resolved: resolve" in diagram
    assert diagram.count(" --> ") == len(lifecycle_edges()) + 3  # start and two ends


def test_admins_see_the_life_cycle_page(admin_client) -> None:
    from django.urls import reverse

    html = admin_client.get(reverse("cases:case-lifecycle")).content.decode()
    assert "Return with instruction" in html and "cases.handle_escalation" in html
    assert "stateDiagram-v2" in html
