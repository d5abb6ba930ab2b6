"""Cockpit flags that cases derive from the customer's cases (registered in `apps.py`)."""

from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext as _

from cases.models import Case, CaseCategory, CaseState
from customers.models import Customer
from customers.selectors import Flag


def case_flags(customer: Customer) -> list[Flag]:
    """ "Complaint open" while a complaint case is worked; "escalated" while a case is."""
    kinds = set(
        Case.objects.active()
        .filter(customer_id=customer.pk)
        .filter(Q(case_type__category=CaseCategory.COMPLAINT) | Q(state=CaseState.ESCALATED))
        .values_list("case_type__category", "state")[:20]
    )
    flags = []
    if any(category == CaseCategory.COMPLAINT for category, _state in kinds):
        flags.append(Flag("complaint-open", _("Complaint open"), "danger"))
    if any(state == CaseState.ESCALATED for _category, state in kinds):
        flags.append(Flag("escalated", _("Case escalated"), "warn"))
    return flags
