"""The process editor: editing a draft changes only the draft, and only whole."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from guidance.models import ProcessVersion, Route, Step, VersionStatus
from guidance.process import spec_load
from guidance.services import draft_create, process_import

PROCESSES = Path(__file__).resolve().parents[2] / "guidance" / "processes"
COMPLAINT = (PROCESSES / "complaint.yaml").read_text()


@pytest.fixture
def published(db) -> ProcessVersion:
    return process_import(text=COMPLAINT, by=None, publish=True)


@pytest.fixture
def draft(published: ProcessVersion, admin_user) -> ProcessVersion:
    return draft_create(definition=published.definition, by=admin_user)


def test_pages_render(admin_client, draft) -> None:
    for name, kwargs in [
        ("guidance:process-list", {}),
        ("guidance:process-import", {}),
        ("guidance:version-detail", {"pk": draft.pk}),
        ("guidance:version-diff", {"pk": draft.pk}),
        ("guidance:version-testrun", {"pk": draft.pk}),
        ("guidance:version-graph", {"pk": draft.pk}),
        ("guidance:version-problems", {"pk": draft.pk}),
    ]:
        response = admin_client.get(reverse(name, kwargs=kwargs))
        assert response.status_code == 200, name
