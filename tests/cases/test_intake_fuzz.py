"""Hypothesis throws arbitrary JSON at the intake API: a 2xx or a 4xx, never a 500."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from cases.intake import channel_key_create

pytestmark = pytest.mark.django_db
# Hypothesis's caches go under var/, not into a .hypothesis folder at the repository root.
set_hypothesis_home_dir(Path(__file__).resolve().parents[2] / "var" / "hypothesis")

FIELDS = [
    "external_id",
    "from",
    "to",
    "subject",
    "body",
    "sent_at",
    "customer_ref",
    "case_ref",
    "in_reply_to",
    "meta",
    "raw",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=60),
    st.sampled_from(
        [
            "C-2026-000001",
            "2026-11-25T10:00:00",
            "9999-12-31T23:59:59+14:00",
            "0151 23456789",
            "a@b.de",
            "<script>alert(1)</script>",
            "\x00",
            "aGk=",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
bodies = st.dictionaries(st.sampled_from(FIELDS), values, max_size=len(FIELDS)) | values


@settings(
    max_examples=150,
    deadline=None,
    database=None,  # no .hypothesis folder in the repository
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(channel=st.sampled_from(["email", "sms", "chat", "social", "phone", "webform"]), body=bodies)
def test_no_body_makes_the_api_fail(client: Client, channel: str, body: object) -> None:
    key = channel_key_create(channel=channel, name="fuzz")[1]
    response = client.post(
        f"/api/v1/inbound/{channel}",
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code in (200, 201, 202, 400, 422), response.content
