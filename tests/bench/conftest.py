"""Benchmarks measure what production runs.

The test environment wraps every template render to send `template_rendered` with a copy
of its context (for the test client's `response.context`); production does not, and for a
page of many small templates that costs milliseconds. Benchmarks render as production does.
"""

from __future__ import annotations

import pytest
from django.template import Template
from django.test.utils import _TestState


@pytest.fixture(autouse=True)
def _production_template_render(monkeypatch: pytest.MonkeyPatch) -> None:
    saved = getattr(_TestState, "saved_data", None)
    if saved is not None:
        monkeypatch.setattr(Template, "_render", saved.template_render)
