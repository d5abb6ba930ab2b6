"""The batch endpoint: up to 100 messages, each answered on its own and in order."""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client

from cases.intake import channel_key_create
from cases.intake import signature_expected as sign
from cases.models import InboundMessage
from customers.models import Interaction

pytestmark = pytest.mark.django_db
URL = "/api/v1/inbound/{}/batch"


def post(client: Client, channel: str, body: object, key: str = "", **headers: str):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return client.post(URL.format(channel), raw, content_type="application/json", headers=headers)


@pytest.fixture
def key() -> str:
    return channel_key_create(channel="email", name="mail gateway")[1]


def mail(n: int, **fields: object) -> dict:
    return {
        "external_id": f"<{n}@example.de>",
        "from": f"kunde{n}@example.de",
        "body": "Hallo",
        **fields,
    }


def test_each_message_is_answered_in_order_as_the_single_endpoint_would(
    client: Client, key: str
) -> None:
    single = client.post(
        "/api/v1/inbound/email",
        json.dumps(mail(0)),
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}"},
    ).json()
    response = post(client, "email", {"messages": [mail(1), mail(0), mail(2)]}, key)
    assert response.status_code == 200
    answers = response.json()
    assert [a["status"] for a in answers] == [201, 200, 201]
    assert answers[1] == {"status": 200, **single, "duplicate": True}
    for answer in (answers[0], answers[2]):
        interaction = Interaction.objects.get(pk=answer["interaction"])
        assert answer == {
            "status": 201,
            "interaction": interaction.pk,
            "customer": interaction.customer_id,
            "case": interaction.case_reference,
            "duplicate": False,
        }


def test_a_bad_message_never_fails_the_others(client: Client, key: str) -> None:
    batch = [
        mail(1),
        {"external_id": "", "from": 5},
        "not an object",
        mail(2, raw="not base64!"),
        {"from": "x@example.de"},
        mail(3),
    ]
    answers = post(client, "email", {"messages": batch}, key).json()
    assert [a["status"] for a in answers] == [201, 422, 422, 422, 422, 201]
    assert {"external_id", "from"} <= set(answers[1]["errors"])
    assert answers[2]["errors"] == {"body": "Each message must be a JSON object."}
    assert set(answers[3]["errors"]) == {"raw"}
    assert set(answers[4]["errors"]) == {"external_id"}
    assert answers[1]["detail"] == "Some fields are invalid."
    assert InboundMessage.objects.count() == 2


def test_duplicates_inside_one_batch_and_across_batches_are_stored_once(
    client: Client, key: str
) -> None:
    first = post(client, "email", {"messages": [mail(1), mail(1), mail(2)]}, key).json()
    assert [a["status"] for a in first] == [201, 200, 201]
    assert first[1] == {**first[0], "status": 200, "duplicate": True}
    again = post(client, "email", {"messages": [mail(2), mail(1), mail(3)]}, key).json()
    assert [a["status"] for a in again] == [200, 200, 201]
    assert again[0]["interaction"] == first[2]["interaction"]
    assert InboundMessage.objects.count() == Interaction.objects.count() == 3


def test_a_hundred_messages_are_taken_and_a_hundred_and_one_refused(
    client: Client, key: str
) -> None:
    too_many = post(client, "email", {"messages": [mail(n) for n in range(101)]}, key)
    assert too_many.status_code == 422
    assert too_many.json()["detail"] == "Some fields are invalid."
    assert "at most 100" in too_many.json()["errors"]["messages"]
    assert not InboundMessage.objects.exists()
    hundred = post(client, "email", {"messages": [mail(n) for n in range(100)]}, key)
    assert hundred.status_code == 200
    assert [a["status"] for a in hundred.json()] == [201] * 100


@pytest.mark.parametrize("body", [{"messages": []}, {}, [mail(1)], b"{not json"])
def test_a_body_that_is_not_a_batch_is_refused_with_422(client: Client, key: str, body) -> None:
    response = post(client, "email", body, key)
    assert 400 <= response.status_code < 500
    assert not InboundMessage.objects.exists()


def test_the_whole_request_is_size_limited(client: Client, key: str, settings) -> None:
    settings.CPM_INTAKE_BATCH_MAX_BYTES = 5000
    response = post(client, "email", {"messages": [mail(1, body="x" * 6000)]}, key)
    assert response.status_code == 413
    assert response.json() == {"detail": "The request is larger than 5000 bytes."}
    assert not InboundMessage.objects.exists()


def test_one_message_over_the_single_limit_is_refused_alone(
    client: Client, key: str, settings
) -> None:
    settings.CPM_INTAKE_MAX_BYTES = 2000
    answers = post(client, "email", {"messages": [mail(1, body="x" * 3000), mail(2)]}, key)
    assert answers.status_code == 200
    assert [a["status"] for a in answers.json()] == [413, 201]


def test_keys_and_signatures_are_checked_as_for_one_message(client: Client, key: str) -> None:
    batch = {"messages": [mail(1)]}
    assert post(client, "email", batch).status_code == 401
    assert post(client, "email", batch, "cpm_email_wrong").status_code == 401
    assert post(client, "fax", batch, key).status_code == 404
    sms_key = channel_key_create(channel="sms", name="sms")[1]
    assert post(client, "email", batch, sms_key).status_code == 401
    signing = channel_key_create(channel="sms", name="signed", require_signature=True)[1]
    sms = {"messages": [{"external_id": "s1", "from": "0151 23456789", "body": "Hallo"}]}
    assert post(client, "sms", sms, signing).status_code == 401
    raw = json.dumps(sms).encode()
    stamp = str(int(time.time()))
    headers = {
        "X-CPM-Timestamp": stamp,
        "X-CPM-Signature": sign(key=signing, timestamp=stamp, body=raw),
    }
    assert post(client, "sms", raw, signing, **headers).status_code == 200
    assert post(client, "sms", raw, signing, **headers).status_code == 401  # a replay
    assert not InboundMessage.objects.filter(channel="email").exists()


def test_the_batch_is_in_the_openapi_document(client: Client) -> None:
    document = client.get("/api/v1/openapi.json").json()
    operation = document["paths"]["/api/v1/inbound/{channel}/batch"]["post"]
    assert set(operation["responses"]) >= {"200", "401", "404", "413", "422"}
    messages = document["components"]["schemas"]["BatchIn"]["properties"]["messages"]
    assert messages["maxItems"] == 100
    assert {"external_id", "from", "raw"} <= set(messages["items"]["properties"])
