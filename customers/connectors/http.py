"""The HTTP JSON back office: `GET {url}/customers/{number}/billing|orders|contracts`.

Answers are cached for a short time (Django's cache). Each call waits at most `timeout`
seconds; after `breaker_failures` failures in a row the circuit opens and, for
`breaker_seconds`, calls fail at once without asking, so a back office that is down never
slows the cockpit down. After that one call is let through: success closes the circuit,
failure opens it again.

Expected JSON (amounts as strings or numbers, dates ISO):
  billing:   {"currency": "EUR", "open_balance": "12.30", "payment_method": "direct_debit",
              "invoices": [{"number", "issued_on", "due_on", "amount", "open_amount"}]}
  orders:    {"orders": [{"number", "ordered_on", "item", "status", "total"}]}
  contracts: {"contracts": [{"number", "product", "status", "start", "end", "monthly_fee"}]}
A 404 means the back office does not know the customer: no data, not a failure.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from urllib.parse import quote

from django.core.cache import cache

from customers.connectors.base import (
    BackOfficeActionFailed,
    BackOfficeUnavailable,
    Billing,
    Contract,
    Invoice,
    Order,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")
MAX_BYTES = 1_000_000
UNKNOWN = "404"  # cached: the back office does not know the customer


def amount(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("amount")
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise ValueError("amount") from None
    if not result.is_finite():
        raise ValueError("amount")
    return result.quantize(Decimal("0.01"))


def day(value: Any) -> date:
    if not isinstance(value, str):
        raise ValueError("date")
    return date.fromisoformat(value)


def string(value: Any) -> str:
    if not isinstance(value, str | int):
        raise ValueError("string")
    return str(value)[:200]


def items(data: Any, key: str) -> list[dict[str, Any]]:
    rows = data.get(key) if isinstance(data, dict) else None
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise ValueError(key)
    return rows


def billing_parse(data: Any) -> Billing:
    if not isinstance(data, dict):
        raise ValueError("billing")
    return Billing(
        currency=string(data.get("currency", "EUR")),
        open_balance=amount(data.get("open_balance")),
        payment_method=string(data.get("payment_method", "")),
        invoices=[
            Invoice(
                number=string(row.get("number")),
                issued_on=day(row.get("issued_on")),
                due_on=day(row.get("due_on")),
                amount=amount(row.get("amount")),
                open_amount=amount(row.get("open_amount", 0)),
            )
            for row in items(data, "invoices")
        ],
    )


def orders_parse(data: Any) -> list[Order]:
    return [
        Order(
            number=string(row.get("number")),
            ordered_on=day(row.get("ordered_on")),
            item=string(row.get("item")),
            status=string(row.get("status", "")),
            total=amount(row.get("total", 0)),
        )
        for row in items(data, "orders")
    ]


def contracts_parse(data: Any) -> list[Contract]:
    return [
        Contract(
            number=string(row.get("number")),
            product=string(row.get("product")),
            status=string(row.get("status", "")),
            start=day(row.get("start")),
            end=day(row["end"]) if row.get("end") else None,
            monthly_fee=amount(row.get("monthly_fee", 0)),
        )
        for row in items(data, "contracts")
    ]


class HttpConnector:
    def __init__(
        self,
        *,
        url: str,
        token: str = "",
        timeout: float = 2.0,
        cache_seconds: int = 60,
        breaker_failures: int = 3,
        breaker_seconds: int = 30,
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.cache_seconds = cache_seconds
        self.breaker_failures = max(1, breaker_failures)
        self.breaker_seconds = breaker_seconds
        # Keys name the back office by a hash of its URL; customers by a hash of their number,
        # so no cache key carries a customer number in clear.
        self.prefix = "backoffice:" + hashlib.sha256(self.url.encode()).hexdigest()[:16]

    def billing(self, *, customer_number: str) -> Billing | None:
        return self.fetch(customer_number, "billing", billing_parse, None)

    def orders(self, *, customer_number: str) -> list[Order]:
        return self.fetch(customer_number, "orders", orders_parse, [])

    def contracts(self, *, customer_number: str) -> list[Contract]:
        return self.fetch(customer_number, "contracts", contracts_parse, [])

    def forget(self, *, customer_number: str) -> None:
        cache.delete_many(
            [self.cache_key(customer_number, what) for what in ("billing", "orders", "contracts")]
        )

    def perform(self, *, customer_number: str, action: str, value: str) -> str:
        """`POST {url}/customers/{number}/actions/{action}` with `{"value": ...}`; a 2xx
        answer `{"reference": "..."}`. A 4xx is a refusal (BackOfficeActionFailed); anything
        else, or an open circuit, BackOfficeUnavailable. Never cached."""
        if self.circuit_open:
            raise BackOfficeUnavailable("circuit open")
        path = f"/customers/{quote(customer_number, safe='')}/actions/{quote(action, safe='')}"
        try:
            data = self.request(path, body={"value": value})
            reference = data.get("reference") if isinstance(data, dict) else None
            if not isinstance(reference, str | int):
                raise BackOfficeUnavailable("no reference")
        except BackOfficeActionFailed:
            raise
        except BackOfficeUnavailable as error:
            self.failed(f"action {action}", error)
            raise
        cache.delete(f"{self.prefix}:failures")
        return str(reference)[:100]

    def cache_key(self, customer_number: str, what: str) -> str:
        return f"{self.prefix}:{what}:{hashlib.sha256(customer_number.encode()).hexdigest()}"

    @property
    def circuit_open(self) -> bool:
        return (cache.get(f"{self.prefix}:open_until") or 0) > time.time()

    def fetch(self, customer_number: str, what: str, parse: Callable[[Any], T], empty: T) -> T:
        key = self.cache_key(customer_number, what)
        cached = cache.get(key)
        if cached is not None:
            return empty if cached == UNKNOWN else cached
        if self.circuit_open:
            raise BackOfficeUnavailable("circuit open")
        try:
            data = self.request(f"/customers/{quote(customer_number, safe='')}/{what}")
            result = empty if data is None else parse(data)
        except (BackOfficeUnavailable, ValueError, TypeError, KeyError) as error:
            self.failed(what, error)
            raise BackOfficeUnavailable(str(error) or type(error).__name__) from None
        cache.delete(f"{self.prefix}:failures")
        cache.set(key, UNKNOWN if data is None else result, self.cache_seconds)
        return result

    def failed(self, what: str, error: Exception) -> None:
        failures_key = f"{self.prefix}:failures"
        failures = (cache.get(failures_key) or 0) + 1
        cache.set(failures_key, failures, None)
        kind = type(error).__name__
        logger.warning("back office %s failed (%s), %s in a row", what, kind, failures)
        if failures >= self.breaker_failures:
            cache.set(f"{self.prefix}:open_until", time.time() + self.breaker_seconds, None)
            logger.warning("back office circuit open for %ss", self.breaker_seconds)

    def request(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """The decoded JSON, None for a 404 on a read; BackOfficeUnavailable for anything
        else; with a body, a POST whose 4xx answer is BackOfficeActionFailed."""
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, data=data, headers=headers)
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read(MAX_BYTES + 1)
        except urllib.error.HTTPError as error:
            if body is not None and 400 <= error.code < 500:
                raise BackOfficeActionFailed(f"refused: HTTP {error.code}") from None
            if error.code == 404:
                return None
            raise BackOfficeUnavailable(f"HTTP {error.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            raise BackOfficeUnavailable(type(error).__name__) from None
        if len(body) > MAX_BYTES:
            raise BackOfficeUnavailable("answer too large")
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise BackOfficeUnavailable("not JSON") from None
