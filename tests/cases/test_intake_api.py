"""The intake API answers: every status code, idempotency, keys, signatures, hostile bodies."""

from __future__ import annotations

import base64
import json
import time

import pytest
from django.core.management import call_command
from django.test import Client

from cases.intake import channel_key_create, channel_key_hash, channel_key_revoke
from cases.intake import signature_expected as sign
from cases.models import ChannelKey, InboundMessage, InboundStatus
from customers.models import Interaction
from customers.services import customer_number
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def post(client: Client, channel: str, body: object, key: str = "", **headers: str):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return client.post(
        f"/api/v1/inbound/{channel}", raw, content_type="application/json", headers=headers
    )


@pytest.fixture
def email_key() -> str:
    return channel_key_create(channel="email", name="mail gateway")[1]


MESSAGE = {"external_id": "m-1", "from": "anna@example.de", "subject": "Hallo", "body": "Text"}


def test_a_new_message_answers_201_with_its_ids(client: Client, email_key: str) -> None:
    response = post(client, "email", MESSAGE, email_key)
    assert response.status_code == 201
    answer = response.json()
    interaction = Interaction.objects.get(pk=answer["interaction"])
    assert answer["customer"] == interaction.customer_id
    assert answer["case"] == interaction.case_reference
    assert answer["case"].startswith("C-")
    assert answer["duplicate"] is False


def test_the_same_message_again_answers_200_duplicate_with_the_same_ids(
    client: Client, email_key: str
) -> None:
    first = post(client, "email", MESSAGE, email_key).json()
    again = post(client, "email", MESSAGE, email_key)
    assert again.status_code == 200
    assert again.json() == {**first, "duplicate": True}
    assert Interaction.objects.count() == 1
    assert InboundMessage.objects.count() == 1


def test_the_same_id_on_another_channel_is_another_message(client: Client, email_key: str) -> None:
    sms_key = channel_key_create(channel="sms", name="sms")[1]
    post(client, "email", MESSAGE, email_key)
    response = post(client, "sms", {**MESSAGE, "from": "+49 151 23456789"}, sms_key)
    assert response.status_code == 201


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer ", "Bearer wrong", "Basic abc", "bearer cpm_email_nonsense"],
)
def test_without_a_valid_key_answers_401_and_stores_nothing(
    client: Client, email_key: str, authorization: str
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = post(client, "email", MESSAGE, **headers)
    assert response.status_code == 401
    assert InboundMessage.objects.count() == 0


def test_a_key_of_another_channel_answers_401(client: Client) -> None:
    sms_key = channel_key_create(channel="sms", name="sms")[1]
    assert post(client, "email", MESSAGE, sms_key).status_code == 401


def test_a_revoked_key_answers_401(client: Client) -> None:
    row, key = channel_key_create(channel="email", name="old")
    channel_key_revoke(key=row)
    assert post(client, "email", MESSAGE, key).status_code == 401


def test_a_key_is_stored_hashed_and_its_last_use_recorded(client: Client, email_key: str) -> None:
    row = ChannelKey.objects.get()
    assert email_key not in (row.key_hash, row.prefix)
    assert row.key_hash == channel_key_hash(email_key)
    assert row.last_used_at is None
    post(client, "email", MESSAGE, email_key)
    row.refresh_from_db()
    assert row.last_used_at is not None


def test_unknown_channel_answers_404(client: Client, email_key: str) -> None:
    assert post(client, "fax", MESSAGE, email_key).status_code == 404
    assert post(client, "fax", MESSAGE).status_code == 404


def test_over_the_size_limit_answers_413(client: Client, email_key: str, settings) -> None:
    settings.CPM_INTAKE_MAX_BYTES = 1000
    response = post(client, "email", {**MESSAGE, "body": "x" * 2000}, email_key)
    assert response.status_code == 413
    assert InboundMessage.objects.count() == 0


def test_the_default_limit_is_one_mebibyte(client: Client, email_key: str) -> None:
    big = {**MESSAGE, "body": "x" * (1024 * 1024)}
    assert post(client, "email", big, email_key).status_code == 413
    fits = {**MESSAGE, "body": "x" * (1000 * 1000)}
    assert post(client, "email", fits, email_key).status_code == 201


def test_invalid_fields_answer_422_naming_each(client: Client, email_key: str) -> None:
    body = {"external_id": "", "from": 5, "sent_at": "yesterday", "meta": "x"}
    response = post(client, "email", body, email_key)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert {"external_id", "from", "sent_at", "meta"} <= set(errors)
    assert InboundMessage.objects.count() == 0


def test_missing_required_fields_answer_422(client: Client, email_key: str) -> None:
    response = post(client, "email", {"subject": "no id"}, email_key)
    assert response.status_code == 422
    assert "external_id" in response.json()["errors"]
    response = post(client, "email", {"external_id": "no sender"}, email_key)
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"from"}


def test_not_json_is_refused_with_a_4xx(client: Client, email_key: str) -> None:
    for body in (b"{not json", b"[]", b'"text"', b"", b"\xff\xfe"):
        response = post(client, "email", body, email_key)
        assert 400 <= response.status_code < 500, body


def test_raw_is_only_for_email_and_must_be_base64(client: Client) -> None:
    sms_key = channel_key_create(channel="sms", name="sms")[1]
    email_key = channel_key_create(channel="email", name="mail")[1]
    response = post(client, "sms", {"external_id": "r", "raw": "aGk="}, sms_key)
    assert response.status_code == 422
    assert "raw" in response.json()["errors"]
    response = post(client, "email", {"external_id": "r", "raw": "not base64!"}, email_key)
    assert response.status_code == 422
    assert "raw" in response.json()["errors"]


def test_a_raw_email_is_parsed(client: Client, email_key: str) -> None:
    mime = (
        b"From: Anna <Anna@Example.de>\r\nSubject: =?utf-8?q?Rechnung_f=C3=BCr_M=C3=A4rz?=\r\n"
        b"Message-ID: <abc@example.de>\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b"<p>Zu <b>hoch</b> &amp; falsch</p><script>alert(1)</script>"
    )
    body = {"external_id": "<abc@example.de>", "raw": base64.b64encode(mime).decode()}
    response = post(client, "email", body, email_key)
    assert response.status_code == 201
    interaction = Interaction.objects.get()
    assert interaction.subject == "Rechnung für März"
    assert interaction.body == "Zu hoch & falsch"
    assert interaction.customer.contact_points.get().normalised == "anna@example.de"


def test_nul_bytes_are_stripped(client: Client, email_key: str) -> None:
    body = {**MESSAGE, "subject": "a\x00b", "body": "c\x00d", "meta": {"k\x00": "v\x00"}}
    assert post(client, "email", body, email_key).status_code == 201
    interaction = Interaction.objects.get()
    assert (interaction.subject, interaction.body) == ("ab", "cd")
    assert InboundMessage.objects.get().payload["meta"] == {"k": "v"}


def test_lone_surrogates_do_not_break_storage(client: Client, email_key: str) -> None:
    raw = b'{"external_id": "s", "from": "anna@example.de", "body": "x\\ud800y"}'
    assert post(client, "email", raw, email_key).status_code == 201


def test_a_script_in_the_body_is_shown_as_text(
    client: Client, email_key: str, agent_client: Client
) -> None:
    hostile = {
        **MESSAGE,
        "subject": "<img src=x onerror=alert(1)>",
        "body": "<script>alert(1)</script>",
    }
    case = post(client, "email", hostile, email_key).json()["case"]
    page = agent_client.get(f"/cases/{case}/").content.decode()
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


# --- signatures ----------------------------------------------------------------------------


def signed(key: str, body: dict, timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return raw, {
        "X-CPM-Timestamp": stamp,
        "X-CPM-Signature": sign(key=key, timestamp=stamp, body=raw),
    }


@pytest.fixture
def signing_key() -> str:
    return channel_key_create(channel="sms", name="signed", require_signature=True)[1]


SMS = {"external_id": "s-1", "from": "0151 23456789", "body": "Hallo"}


def test_a_channel_that_requires_signatures_refuses_unsigned_requests(
    client: Client, signing_key: str
) -> None:
    assert post(client, "sms", SMS, signing_key).status_code == 401


def test_a_correctly_signed_request_is_accepted(client: Client, signing_key: str) -> None:
    raw, headers = signed(signing_key, SMS)
    assert post(client, "sms", raw, signing_key, **headers).status_code == 201


def test_a_signature_over_another_body_is_refused(client: Client, signing_key: str) -> None:
    _raw, headers = signed(signing_key, SMS)
    other = json.dumps({**SMS, "body": "changed"}).encode()
    response = post(client, "sms", other, signing_key, **headers)
    assert response.status_code == 401
    assert "signature" in response.json()["detail"]


def test_an_old_timestamp_is_refused(client: Client, signing_key: str) -> None:
    raw, headers = signed(signing_key, SMS, timestamp=int(time.time()) - 301)
    assert post(client, "sms", raw, signing_key, **headers).status_code == 401


def test_a_replayed_signed_request_is_refused(client: Client, signing_key: str) -> None:
    raw, headers = signed(signing_key, SMS)
    assert post(client, "sms", raw, signing_key, **headers).status_code == 201
    assert post(client, "sms", raw, signing_key, **headers).status_code == 401


def test_a_signature_given_to_a_channel_that_does_not_require_it_is_still_checked(
    client: Client, email_key: str
) -> None:
    raw = json.dumps(MESSAGE).encode()
    headers = {"X-CPM-Timestamp": str(int(time.time())), "X-CPM-Signature": "sha256=00"}
    assert post(client, "email", raw, email_key, **headers).status_code == 401


# --- keys and docs -------------------------------------------------------------------------


def test_channel_key_command_prints_a_working_key(client: Client, capsys) -> None:
    call_command("channel_key", "webform", "--name", "contact form")
    key = capsys.readouterr().out.strip()
    assert key.startswith("cpm_webform_")
    assert ChannelKey.objects.get().name == "contact form"
    body = {"external_id": "w-1", "from": "max@example.de", "body": "Frage"}
    assert post(client, "webform", body, key).status_code == 201


def test_admin_creates_a_key_and_sees_it_once(admin_client: Client) -> None:
    response = admin_client.post(
        "/admin/cases/channelkey/add/", {"channel": "chat", "name": "chat widget"}, follow=True
    )
    assert response.status_code == 200
    row = ChannelKey.objects.get()
    shown = [str(m) for m in response.context["messages"]]
    key = next(text.split(": ")[-1] for text in shown if "cpm_chat_" in text)
    assert row.key_hash == channel_key_hash(key)
    assert key not in admin_client.get(f"/admin/cases/channelkey/{row.pk}/change/").content.decode()


def test_openapi_document_and_docs_are_served_without_a_cdn(client: Client) -> None:
    document = client.get("/api/v1/openapi.json")
    assert document.status_code == 200
    assert "/api/v1/inbound/{channel}" in document.json()["paths"]
    docs = client.get("/api/v1/docs").content.decode()
    assert "swagger-ui-bundle.js" in docs
    assert "cdn" not in docs.lower()


def test_a_message_that_fails_processing_is_kept_queued_and_processed_again(
    client: Client, email_key: str, supervisor
) -> None:
    # The next customer number is taken (say, by an import), so the prospect cannot be made.
    blocker = CustomerFactory(number=customer_number(1))
    body = {"external_id": "fails", "from": "new@example.de", "body": "Hallo"}
    response = post(client, "email", body, email_key)
    assert response.status_code == 202
    assert response.json()["interaction"] is None
    message = InboundMessage.objects.get()
    assert message.status == InboundStatus.FAILED
    assert "number" in message.error
    assert message.exception.source == "intake-retry"
    assert post(client, "email", body, email_key).json()["duplicate"] is True

    blocker.number = "K-999999"
    blocker.save()
    supervisor_client = Client()
    supervisor_client.force_login(supervisor)
    item = message.exception
    response = supervisor_client.post(f"/cases/exceptions/{item.pk}/reprocess/")
    assert response.status_code == 302
    message.refresh_from_db()
    assert message.status == InboundStatus.PROCESSED
    assert message.interaction is not None
    item.refresh_from_db()
    assert item.decided_at is not None


@pytest.mark.parametrize("stamp", ["", "abc", "²³", "9" * 5000, "-5", "1e9"])
def test_a_malformed_timestamp_is_refused_with_401(
    client: Client, signing_key: str, stamp: str
) -> None:
    headers = {"X-CPM-Timestamp": stamp, "X-CPM-Signature": "sha256=00"}
    assert post(client, "sms", SMS, signing_key, **headers).status_code == 401
