"""The local back office: billing, orders and contracts derived from our own holdings.

Used by the demo and wherever no billing system is connected. Invoices are the monthly
fees of the last months; a customer paying by bank transfer or invoice sometimes has the
latest one still open (deterministically, by contract number), so the demo shows both.
"""

from __future__ import annotations

import zlib
from datetime import date, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils import timezone

from customers.connectors.base import (
    BackOfficeActionFailed,
    Billing,
    ConnectorAction,
    Contract,
    Invoice,
    Order,
)
from customers.models import Customer, Holding, HoldingStatus, PaymentMethod

MONTHS_BILLED = 3
PAYMENT_DAYS = 14
SELF_PAYING = {PaymentMethod.BANK_TRANSFER, PaymentMethod.INVOICE}


def month_starts(today: date, count: int) -> list[date]:
    first = today.replace(day=1)
    starts = []
    for _ in range(count):
        starts.append(first)
        first = (first - timedelta(days=1)).replace(day=1)
    return starts


def holdings_of(customer_number: str) -> list[Holding]:
    return list(
        Holding.objects.filter(customer__number=customer_number).order_by("-start", "-id")[:50]
    )


class LocalConnector:
    def billing(self, *, customer_number: str) -> Billing | None:
        holdings = holdings_of(customer_number)
        if not holdings:
            return None
        today = timezone.localdate()
        invoices = []
        for holding in holdings:
            late = zlib.crc32(holding.contract_number.encode()) % 4 == 0
            for index, issued in enumerate(month_starts(today, MONTHS_BILLED)):
                if issued < holding.start.replace(day=1) or (holding.end and issued > holding.end):
                    continue
                due = issued + timedelta(days=PAYMENT_DAYS)
                unpaid = due >= today or (
                    index == 1 and late and holding.payment_method in SELF_PAYING
                )
                invoices.append(
                    Invoice(
                        number=f"R-{holding.contract_number}-{issued:%Y%m}",
                        issued_on=issued,
                        due_on=due,
                        amount=holding.monthly_fee,
                        open_amount=holding.monthly_fee if unpaid else Decimal("0.00"),
                    )
                )
        invoices.sort(key=lambda invoice: (invoice.issued_on, invoice.number), reverse=True)
        active = [h for h in holdings if h.status == HoldingStatus.ACTIVE] or holdings
        return Billing(
            currency="EUR",
            open_balance=sum((i.open_amount for i in invoices), Decimal("0.00")),
            payment_method=active[0].payment_method,
            invoices=invoices,
        )

    def orders(self, *, customer_number: str) -> list[Order]:
        status = {HoldingStatus.PENDING: "pending", HoldingStatus.CANCELLED: "cancelled"}
        return [
            Order(
                number=f"A-{holding.contract_number}",
                ordered_on=holding.start,
                item=holding.product,
                status=status.get(holding.status, "delivered"),
                total=holding.monthly_fee,
            )
            for holding in holdings_of(customer_number)
        ]

    def contracts(self, *, customer_number: str) -> list[Contract]:
        return [
            Contract(
                number=holding.contract_number,
                product=holding.product,
                status=holding.status,
                start=holding.start,
                end=holding.end,
                monthly_fee=holding.monthly_fee,
            )
            for holding in holdings_of(customer_number)
        ]

    def forget(self, *, customer_number: str) -> None:
        """Nothing is kept outside the database."""

    def perform(self, *, customer_number: str, action: str, value: str) -> str:
        """Book the add-on as a pending holding, or change how the active holdings are
        paid, through the same services an agent's edit uses (each change on the timeline)."""
        from customers import services

        customer = Customer.objects.filter(number=customer_number).first()
        if customer is None:
            raise BackOfficeActionFailed("unknown customer")
        try:
            if action == ConnectorAction.BOOK_ADDON:
                number = f"ADD-{zlib.crc32(f'{customer_number}:{value}'.encode()):08X}"
                if Holding.objects.filter(contract_number=number).exists():
                    return number  # booked before: the same answer, nothing twice
                services.holding_create(
                    customer=customer,
                    product=value,
                    contract_number=number,
                    start=timezone.localdate(),
                    status=HoldingStatus.PENDING,
                    by=None,
                )
                return number
            if action == ConnectorAction.UPDATE_PAYMENT_METHOD:
                if value not in PaymentMethod.values or value == PaymentMethod.DIRECT_DEBIT:
                    raise BackOfficeActionFailed(f"payment method {value!r} needs more data")
                active = Holding.objects.filter(customer=customer, status=HoldingStatus.ACTIVE)
                for holding in active:
                    services.holding_payment_change(
                        holding=holding, payment_method=value, iban="", by=None
                    )
                return f"PM-{customer_number}-{value}"
        except ValidationError as error:
            raise BackOfficeActionFailed("; ".join(error.messages)[:200]) from None
        raise BackOfficeActionFailed(f"unknown action {action!r}")
