"""What the cockpit reads from back-office systems, whichever connector fetches it.

A connector answers with these plain dataclasses or raises `BackOfficeUnavailable`: the
cockpit then says "billing system not reachable" instead of failing. Amounts are Decimals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Protocol

from django.db import models
from django.utils.translation import gettext_lazy as _


class BackOfficeUnavailable(Exception):
    """The back office did not answer usefully: down, slow, an error, or garbage.

    The message names the kind of failure only, never customer data (it is logged).
    """


class BackOfficeActionFailed(Exception):
    """The back office refused or could not do an action; the message says why (no
    customer data), for the exception queue."""


class ConnectorAction(models.TextChoices):
    """What an accepted offer may ask the back office to do (`perform`)."""

    BOOK_ADDON = "book_addon", _("Book an add-on (the product)")
    UPDATE_PAYMENT_METHOD = "update_payment_method", _("Change the payment method")


@dataclass(frozen=True)
class Invoice:
    number: str
    issued_on: date
    due_on: date
    amount: Decimal
    open_amount: Decimal

    @property
    def status(self) -> str:
        if self.open_amount <= 0:
            return "paid"
        return "overdue" if self.due_on < date.today() else "open"  # noqa: DTZ011

    @property
    def status_label(self) -> str:
        labels = {"paid": _("paid"), "overdue": _("overdue"), "open": _("open")}
        return str(labels[self.status])


@dataclass(frozen=True)
class Billing:
    currency: str
    open_balance: Decimal
    payment_method: str  # a customers.models.PaymentMethod value, or the back office's word
    invoices: list[Invoice] = field(default_factory=list)

    @property
    def payment_method_label(self) -> str:
        from customers.models import PaymentMethod

        return str(dict(PaymentMethod.choices).get(self.payment_method, self.payment_method))


@dataclass(frozen=True)
class Order:
    number: str
    ordered_on: date
    item: str
    status: str
    total: Decimal


@dataclass(frozen=True)
class Contract:
    number: str
    product: str
    status: str
    start: date
    end: date | None
    monthly_fee: Decimal


@dataclass(frozen=True)
class BackOffice:
    """What the billing panel shows; `unreachable` when the back office failed."""

    billing: Billing | None = None
    orders: list[Order] = field(default_factory=list)
    contracts: list[Contract] = field(default_factory=list)
    unreachable: bool = False


class BillingConnector(Protocol):
    """Billing, orders and contracts of one customer, by customer number."""

    def billing(self, *, customer_number: str) -> Billing | None: ...

    def orders(self, *, customer_number: str) -> list[Order]: ...

    def contracts(self, *, customer_number: str) -> list[Contract]: ...

    def forget(self, *, customer_number: str) -> None:
        """Drop anything kept about the customer (a cache), e.g. after an erasure."""

    def perform(self, *, customer_number: str, action: str, value: str) -> str:
        """Do a `ConnectorAction` for the customer; its reference in the back office.

        Raises BackOfficeActionFailed (refused) or BackOfficeUnavailable (not reached).
        """
