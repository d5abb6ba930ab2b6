"""`cpm.wsgi.application`, as gunicorn calls it: intake requests go through the lean stack
and are answered as through the full one; everything else goes through `MIDDLEWARE`."""

from __future__ import annotations

import io
import json

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from cases.intake import channel_key_create
from cases.models import InboundMessage
from cpm.wsgi import application

pytestmark = pytest.mark.django_db


@pytest.fixture
def call():
    """Call the WSGI application in this thread, keeping the test's connection open (as
    Django's test client does)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)

    def call(method: str, path: str, body: bytes = b"", **headers: str):
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "443",
            "HTTP_HOST": "testserver",
            "HTTPS": "on",
            "wsgi.url_scheme": "https",
            "wsgi.input": io.BytesIO(body),
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": "application/json",
            **{f"HTTP_{name.upper()}": value for name, value in headers.items()},
        }
        answer = {}

        def start_response(status, response_headers, exc_info=None):
            answer["status"] = int(status.split()[0])
            answer["headers"] = dict(response_headers)

        answer["body"] = b"".join(application(environ, start_response))
        return answer

    yield call
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_an_inbound_message_through_the_wsgi_application(call) -> None:
    _key, secret = channel_key_create(channel="sms", name="wsgi test")
    body = json.dumps(
        {"external_id": "wsgi-1", "from": "+4917011112222", "body": "<script>x</script>"}
    ).encode()

    first = call("POST", "/api/v1/inbound/sms", body, authorization=f"Bearer {secret}")
    again = call("POST", "/api/v1/inbound/sms", body, authorization=f"Bearer {secret}")
    refused = call("POST", "/api/v1/inbound/sms", body, authorization="Bearer wrong")
    invalid = call("POST", "/api/v1/inbound/sms", b"{}", authorization=f"Bearer {secret}")

    assert first["status"] == 201 and again["status"] == 200
    assert json.loads(again["body"])["duplicate"] is True
    assert json.loads(first["body"])["case"] == json.loads(again["body"])["case"]
    assert refused["status"] == 401 and invalid["status"] == 422
    assert "external_id" in invalid["body"].decode()
    assert first["headers"]["X-Content-Type-Options"] == "nosniff"
    assert "Set-Cookie" not in first["headers"]  # no session middleware
    assert "X-Frame-Options" not in first["headers"]  # nor the rest of the page stack
    assert InboundMessage.objects.filter(external_id="wsgi-1").count() == 1


def test_pages_still_go_through_the_full_stack(call) -> None:
    page = call("GET", "/")

    assert page["status"] == 302 and "/login/" in page["headers"]["Location"]
    assert "X-Frame-Options" in page["headers"]  # XFrameOptionsMiddleware: full stack
