"""The intake API (django-ninja): `POST /api/v1/inbound/<channel>`, one per channel's gateway,
and `POST /api/v1/inbound/<channel>/batch` for up to 100 messages in one request.

Authenticated per channel with a channel key (`Authorization: Bearer <key>`), never by a
session: the views are exempt from log-in and CSRF. Checks run in this order: unknown
channel (404), size (413), key and signature (401), body (422). A batch is answered item
by item, in order, each with the status and body the single endpoint would give it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, NinjaAPI, Schema, Status
from ninja.errors import AuthenticationError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer
from pydantic import BaseModel, ConfigDict, WithJsonSchema
from pydantic import ValidationError as PydanticValidationError

from cases import intake
from cases.models import ChannelKey, InboundChannel, InboundStatus

ChannelName = Literal["email", "sms", "chat", "social", "phone", "webform"]
BATCH_MAX = 100
BATCH_URL_NAME = "inbound-batch"


class UnknownChannel(Exception):
    pass


class TooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


class Refused(Exception):
    """Credentials were given but are not good enough; the message says why."""


class InboundIn(BaseModel):
    """One message as a channel delivers it (a plain pydantic model: ninja's Schema adds
    reading attributes of Django objects, which a request body never needs, at a cost in
    every request)."""

    model_config = ConfigDict(populate_by_name=True)

    external_id: str = Field(
        ..., min_length=1, max_length=200, description="The channel's message id."
    )
    sender: str | None = Field(
        None,
        alias="from",
        max_length=320,
        description="Address, number or handle (required unless `raw` is given).",
    )
    to: str | None = Field(None, max_length=320)
    subject: str | None = Field(None, max_length=2000)
    body: str | None = None
    sent_at: datetime | None = None
    customer_ref: str | None = Field(None, max_length=40, description="Customer or contract no.")
    case_ref: str | None = Field(None, max_length=40, description="A quoted case reference.")
    in_reply_to: str | None = Field(
        None, max_length=2000, description="The external id this message answers."
    )
    meta: dict[str, Any] | None = Field(
        None,
        description=(
            "Channel details: `network` for social and chat handles; for phone calls "
            "`duration` (seconds), `agent` and `wrap_up`."
        ),
    )
    raw: str | None = Field(None, description="E-mail only: the RFC 822 message, base64.")


class InboundOut(Schema):
    interaction: int | None
    customer: int | None
    case: str | None
    duplicate: bool


class ErrorOut(Schema):
    detail: str
    errors: dict[str, str] | None = None


class BatchIn(Schema):
    # Items are checked one by one in the view (a bad one must not fail the batch); the
    # document still shows each item's schema.
    messages: list[Annotated[Any, WithJsonSchema(InboundIn.model_json_schema())]] = Field(
        ...,
        min_length=1,
        max_length=BATCH_MAX,
        description=(
            "Up to 100 messages, each exactly as `POST /inbound/{channel}` takes one "
            "(InboundIn). Each is answered on its own: a bad one never fails the others."
        ),
    )


class BatchItemOut(InboundOut):
    status: int = Field(..., description="201 new, 200 duplicate, 202 stored but failed.")


class BatchItemErrorOut(ErrorOut):
    status: int = Field(..., description="413 larger than the single limit, 422 invalid.")


class ChannelAuth(HttpBearer):
    """The channel key in `Authorization: Bearer`; a signature when given or required."""

    def __call__(self, request: HttpRequest) -> ChannelKey | None:
        channel = request.resolver_match.kwargs.get("channel") if request.resolver_match else None
        if channel not in InboundChannel.values:
            raise UnknownChannel
        batch = request.resolver_match.url_name == BATCH_URL_NAME
        limit = settings.CPM_INTAKE_BATCH_MAX_BYTES if batch else settings.CPM_INTAKE_MAX_BYTES
        try:
            if int(request.META.get("CONTENT_LENGTH") or 0) > limit or len(request.body) > limit:
                raise TooLarge(limit)
        except (RequestDataTooBig, ValueError):
            raise TooLarge(limit) from None
        scheme, _space, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self.authenticate(request, token.strip())

    def authenticate(self, request: HttpRequest, token: str) -> ChannelKey | None:
        channel = request.resolver_match.kwargs["channel"]
        key = intake.channel_key_check(channel=channel, key=token)
        if key is None:
            return None
        signature = request.headers.get("X-CPM-Signature", "")
        if key.require_signature or signature:
            problem = intake.signature_check(
                key=token,
                body=request.body,
                timestamp=request.headers.get("X-CPM-Timestamp", "").strip(),
                signature=signature,
                now=timezone.now(),
            )
            if problem:
                raise Refused(problem)
        return key


api = NinjaAPI(
    title="CPM intake API",
    version="1",
    description=(
        "Inbound messages from every channel. Authenticate with a channel key "
        "(`python manage.py channel_key <channel>`) as `Authorization: Bearer <key>`. "
        "Optionally sign: `X-CPM-Timestamp: <unix seconds>` and "
        "`X-CPM-Signature: sha256=<hex HMAC-SHA256 of '<timestamp>.<body>' with the key>`."
    ),
    urls_namespace="api",
    docs_decorator=login_not_required,
)


def error(
    request: HttpRequest, status: int, detail: str, errors: dict | None = None
) -> HttpResponse:
    body = {"detail": detail} if errors is None else {"detail": detail, "errors": errors}
    return api.create_response(request, body, status=status)


@api.exception_handler(UnknownChannel)
def unknown_channel(request: HttpRequest, exc: UnknownChannel) -> HttpResponse:
    return error(request, 404, _("Unknown channel."))


@api.exception_handler(TooLarge)
def too_large(request: HttpRequest, exc: TooLarge) -> HttpResponse:
    return error(
        request, 413, _("The request is larger than %(limit)s bytes.") % {"limit": exc.limit}
    )


@api.exception_handler(Refused)
def refused(request: HttpRequest, exc: Refused) -> HttpResponse:
    return error(request, 401, str(exc))


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error(request, 401, _("A valid key for this channel is required."))


@api.exception_handler(NinjaValidationError)
def invalid(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    """422 naming each invalid field (never echoing the value)."""
    return error(request, 422, _("Some fields are invalid."), field_errors(exc.errors))


def field_errors(problems: list) -> dict[str, str]:
    fields: dict[str, str] = {}
    for problem in problems:
        loc = [str(part) for part in problem.get("loc", ()) if part not in ("body", "payload")]
        fields.setdefault(".".join(loc) or "body", str(problem.get("msg", "invalid")))
    return fields


def payload_problems(channel: str, data: dict) -> dict[str, str]:
    """What the schema alone cannot say: `from` or `raw`, and `raw` being base64 e-mail."""
    problems: dict[str, str] = {}
    if not data["external_id"].strip():
        problems["external_id"] = _("The message id must not be empty.")
    if data.get("raw") and channel != "email":
        problems["raw"] = _("Only e-mail messages can be delivered raw.")
    elif data.get("raw"):
        try:
            intake.raw_email_decode(data["raw"])
        except ValueError as problem:
            problems["raw"] = str(problem)
    if not (data.get("from") or "").strip() and not data.get("raw"):
        problems["from"] = _("Give the sender's address, number or handle.")
    return problems


@api.post(
    "/inbound/{channel}",
    response={
        200: InboundOut,
        201: InboundOut,
        202: InboundOut,
        401: ErrorOut,
        404: ErrorOut,
        413: ErrorOut,
        422: ErrorOut,
    },
    auth=ChannelAuth(),
    url_name="inbound",
    summary="Deliver one inbound message",
)
def inbound(request: HttpRequest, channel: ChannelName, payload: InboundIn) -> Status:
    """201: recorded (new). 200: the same message again (`duplicate: true`, the same ids).
    202: stored, but processing failed; it waits in the exception queue."""
    status, body = inbound_one(request, channel, payload)
    return Status(status, body)


@api.post(
    "/inbound/{channel}/batch",
    response={
        200: list[BatchItemOut | BatchItemErrorOut],
        401: ErrorOut,
        404: ErrorOut,
        413: ErrorOut,
        422: ErrorOut,
    },
    auth=ChannelAuth(),
    url_name=BATCH_URL_NAME,
    summary="Deliver up to 100 inbound messages",
)
def inbound_batch(request: HttpRequest, channel: ChannelName, payload: BatchIn) -> Status:
    """Roles: none; a key of this channel, never a session (as for one message).

    200 with one answer per message, in order: `status` (201, 200, 202 as for one message;
    422 invalid; 413 larger than the single-message limit) and the single endpoint's body.
    The valid messages are stored together, each idempotent on its id, also within one
    batch, and each answered on its own. The whole request may be
    `CPM_INTAKE_BATCH_MAX_BYTES` large (413 above)."""
    answers: list[dict | None] = []
    valid: list[tuple[int, dict]] = []  # (place in the answers, payload)
    for item in payload.messages:
        data, refusal = batch_item_check(channel, item)
        if data is not None:
            valid.append((len(answers), data))
        answers.append(refusal)
    received = intake.inbound_receive_many(
        channel=channel, payloads=[data for _place, data in valid], key=request.auth
    )
    for (place, _data), one in zip(valid, received, strict=True):
        status, body = received_answer(one)
        answers[place] = {"status": status, **body}
    return Status(200, answers)


def batch_item_check(channel: str, item: object) -> tuple[dict | None, dict | None]:
    """A batch item's payload, ready to store, or (None and) its answer, 413 or 422."""
    invalid = {"status": 422, "detail": _("Some fields are invalid.")}
    if not isinstance(item, dict):
        return None, {**invalid, "errors": {"body": _("Each message must be a JSON object.")}}
    if len(json.dumps(item).encode()) > settings.CPM_INTAKE_MAX_BYTES:
        limit = settings.CPM_INTAKE_MAX_BYTES
        detail = _("The message is larger than %(limit)s bytes.") % {"limit": limit}
        return None, {"status": 413, "detail": detail}
    try:
        message = InboundIn.model_validate(item)
    except PydanticValidationError as problem:
        return None, {**invalid, "errors": field_errors(problem.errors())}
    data, problems = payload_prepare(channel, message)
    return (None, {**invalid, "errors": problems}) if problems else (data, None)


def payload_prepare(channel: str, payload: InboundIn) -> tuple[dict, dict[str, str]]:
    """The payload as it is stored (cleaned), and what is wrong with it (empty: nothing)."""
    data = intake.clean_payload(payload.model_dump(by_alias=True, mode="json"))
    data["external_id"] = data["external_id"].strip()
    return data, payload_problems(channel, data)


def inbound_one(request: HttpRequest, channel: str, payload: InboundIn) -> tuple[int, dict]:
    """The status and body for one message: checked, stored once, processed."""
    data, problems = payload_prepare(channel, payload)
    if problems:
        return 422, {"detail": _("Some fields are invalid."), "errors": problems}
    received = intake.inbound_receive_coalesced(channel=channel, payload=data, key=request.auth)
    return received_answer(received)


def received_answer(received: intake.Received) -> tuple[int, dict]:
    message = received.message
    answer = {
        "interaction": message.interaction_id,
        "customer": message.customer_id,
        "case": message.case.reference if message.case else None,
        "duplicate": received.duplicate,
    }
    if received.duplicate:
        return 200, answer
    return (201 if message.status == InboundStatus.PROCESSED else 202), answer


def api_urls() -> tuple[list[URLPattern | URLResolver], str, str]:
    """The API's URLs, exempt from the log-in requirement (each call brings its key)."""
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            login_not_required(pattern.callback)
    return patterns, app_name, namespace
