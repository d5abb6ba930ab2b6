"""Ten agents save the same customer's name at once from forms opened together: one wins,
nine get the conflict, the change log has one entry (PostgreSQL: the row lock)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from customers.models import CustomerChange
from customers.services import CustomerConflict, customer_edit, text
from tests.factories import CustomerFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_ten_agents_renaming_one_customer_end_with_one_change(agent) -> None:
    customer = CustomerFactory(name="Anna Müller")
    seen = {"name": text(customer.name), "consent_marketing": "False"}

    def save(n: int) -> str:
        try:
            changes = {"name": f"Anna {n}", "consent_marketing": False}
            customer_edit(customer=customer, by=agent, changes=changes, seen=seen)
            return "ok"
        except CustomerConflict:
            return "conflict"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = sorted(pool.map(save, range(10)))
    assert results == ["conflict"] * 9 + ["ok"]
    change = CustomerChange.objects.get()
    customer.refresh_from_db()
    assert (change.old, change.new) == ("Anna Müller", customer.name)
