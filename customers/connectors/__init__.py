"""Back-office connectors: data the cockpit shows that lives in other systems.

`billing_connector()` builds the one configured in `settings.CPM_BILLING` (environment:
CPM_BILLING_CONNECTOR=local|http, CPM_BILLING_URL, ..._TOKEN, ..._TIMEOUT,
..._CACHE_SECONDS, ..._BREAKER_FAILURES, ..._BREAKER_SECONDS); read at call time, so
tests and deployments change it without a restart of the import.
"""

from __future__ import annotations

from django.conf import settings

from customers.connectors.base import (
    BackOffice,
    BackOfficeActionFailed,
    BackOfficeUnavailable,
    BillingConnector,
    ConnectorAction,
)
from customers.connectors.http import HttpConnector
from customers.connectors.local import LocalConnector

__all__ = [
    "BackOffice",
    "BackOfficeActionFailed",
    "BackOfficeUnavailable",
    "BillingConnector",
    "ConnectorAction",
    "billing_connector",
]


def billing_connector() -> BillingConnector:
    config = settings.CPM_BILLING
    if config["connector"] == "http":
        return HttpConnector(
            url=config["url"],
            token=config["token"],
            timeout=config["timeout"],
            cache_seconds=config["cache_seconds"],
            breaker_failures=config["breaker_failures"],
            breaker_seconds=config["breaker_seconds"],
        )
    return LocalConnector()
