"""Receivers of `customers.signals`: thin, each calls one function of `cases.customer_data`.

Connected in `CasesConfig.ready`.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from cases import customer_data
from customers.signals import (
    customer_erasing,
    customer_exporting,
    customer_merging,
    customer_unmerging,
)


@receiver(customer_merging, dispatch_uid="cases.merge")
def on_customer_merging(sender: type, **kwargs: Any) -> dict[str, list[int]]:
    return customer_data.customer_cases_move(source=kwargs["source"], target=kwargs["target"])


@receiver(customer_unmerging, dispatch_uid="cases.unmerge")
def on_customer_unmerging(sender: type, **kwargs: Any) -> None:
    customer_data.customer_cases_move_back(
        source=kwargs["source"], target=kwargs["target"], moved=kwargs["moved"]
    )


@receiver(customer_erasing, dispatch_uid="cases.erase")
def on_customer_erasing(sender: type, **kwargs: Any) -> None:
    customer_data.customer_cases_anonymise(customer=kwargs["customer"])


@receiver(customer_exporting, dispatch_uid="cases.export")
def on_customer_exporting(sender: type, **kwargs: Any) -> dict[str, list[dict[str, object]]]:
    return customer_data.customer_cases_export(customer=kwargs["customer"])
