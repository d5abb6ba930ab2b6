"""The HTTP gateway backend for outbound SMS, chat and social messages.

One JSON POST per message to the channel's gateway (`CPM_GATEWAY_<CHANNEL>_URL`), with
`Authorization: Bearer <CPM_GATEWAY_<CHANNEL>_TOKEN>` and `Idempotency-Key: <the outbox
row's key>`. The key is the same on every attempt for one message, so a gateway that
keeps the keys it has seen drops a repeat (see docs/architecture.md, "Delivery
guarantee"). The body:

    {"id": "<idempotency key>", "channel": "sms", "to": "+4915112345678",
     "network": "", "subject": "...", "text": "..."}

For social and chat, `to` is the handle without its network and `network` names it
(`instagram`, `whatsapp` ...), as the customer's contact point holds them.

Only the status code counts: 2xx is accepted (the body is not read, so a gateway that
answers 200 with anything is still accepted); 408, 409, 425, 429 and 5xx, a timeout and a
connection or protocol error are transient (`GatewayUnavailable`: retried with back-off);
every other answer is permanent (`GatewayRefused`: no retry, the exception queue).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
from django.conf import settings

if TYPE_CHECKING:
    from cases.models import OutboundMessage

# 409: an earlier attempt with this key is still in progress there (safe to repeat).
TRANSIENT_STATUSES = {408, 409, 425, 429}


class GatewayUnavailable(Exception):
    """The gateway could not be reached or asked us to try again later."""


class GatewayRefused(Exception):
    """The gateway refused the message for good; sending it again would not help."""


def gateway_configured(channel: str) -> bool:
    return channel in settings.CPM_GATEWAYS["channels"]


def gateway_payload(message: OutboundMessage) -> dict[str, str]:
    network, handle = "", message.recipient
    if message.channel in ("chat", "social") and ":" in message.recipient:
        network, handle = message.recipient.split(":", 1)
    return {
        "id": message.idempotency_key,
        "channel": message.channel,
        "to": handle,
        "network": network,
        "subject": message.subject,
        "text": message.body,
    }


def gateway_send(message: OutboundMessage) -> None:
    """POST the message to its channel's gateway; raises GatewayUnavailable or GatewayRefused."""
    config = settings.CPM_GATEWAYS["channels"][message.channel]
    headers = {"Idempotency-Key": message.idempotency_key, "User-Agent": "CPM outbox"}
    if config["token"]:
        headers["Authorization"] = f"Bearer {config['token']}"
    try:
        response = httpx.post(
            config["url"],
            json=gateway_payload(message),
            headers=headers,
            timeout=settings.CPM_GATEWAYS["timeout"],
            follow_redirects=False,
        )
    except httpx.TimeoutException as error:
        raise GatewayUnavailable(f"timeout after {settings.CPM_GATEWAYS['timeout']} s") from error
    except httpx.HTTPError as error:  # connection refused, reset, not HTTP at all ...
        raise GatewayUnavailable(f"{type(error).__name__}: {error}") from error
    status = response.status_code
    if 200 <= status < 300:
        return
    # The gateway's answer may echo the message: keep only its first bytes in our error.
    detail = f"HTTP {status}: {response.text[:200]}"
    if status >= 500 or status in TRANSIENT_STATUSES:
        raise GatewayUnavailable(detail)
    raise GatewayRefused(detail)
