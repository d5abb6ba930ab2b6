"""The cockpit's flags that come from the customer's cases: derived, never typed."""

from __future__ import annotations

import pytest

from cases.models import CaseCategory, CaseState, CaseType
from customers.selectors import customer_cockpit
from tests.factories import CaseFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def codes(customer) -> list[str]:
    return [flag.code for flag in customer_cockpit(customer=customer).flags]


def complaint_type() -> CaseType:
    return CaseType.objects.create(
        name_en="Complaint", name_de="Beschwerde", category=CaseCategory.COMPLAINT
    )


def test_an_open_complaint_case_flags_the_customer_until_it_is_resolved() -> None:
    customer = CustomerFactory()
    CaseFactory(customer=customer, state=CaseState.OPEN)  # a question: no flag
    assert "complaint-open" not in codes(customer)
    complaint = CaseFactory(customer=customer, state=CaseState.OPEN, case_type=complaint_type())
    assert "complaint-open" in codes(customer)
    complaint.__class__.objects.filter(pk=complaint.pk).update(state=CaseState.RESOLVED)
    assert "complaint-open" not in codes(customer)


def test_an_escalated_case_flags_the_customer() -> None:
    customer = CustomerFactory()
    CaseFactory(customer=customer, state=CaseState.ESCALATED)
    assert codes(customer).count("escalated") == 1
    other = CustomerFactory()
    assert "escalated" not in codes(other)


def test_the_cockpit_shows_the_complaint_flag(agent_client) -> None:
    customer = CustomerFactory()
    CaseFactory(customer=customer, state=CaseState.WAITING_CUSTOMER, case_type=complaint_type())
    page = agent_client.get(customer.get_absolute_url()).content.decode()
    assert 'data-flag="complaint-open"' in page
    assert "Complaint open" in page
