"""Duplicates: suggestions, a supervisor's merge, and its undo (everything moves back)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cases import guided
from cases.models import Case, CaseEvent, CaseState, GuidedRun
from cases.services import case_note_add
from customers import merging, services
from customers.models import (
    Address,
    AuditAction,
    AuditEvent,
    Channel,
    ContactKind,
    ContactPoint,
    Customer,
    CustomerChange,
    Direction,
    Holding,
    Interaction,
)
from customers.selectors import customer_identify, customer_search
from guidance.services import process_import
from tests.factories import CaseFactory, HoldingFactory

PROCESSES = Path(__file__).resolve().parents[2] / "guidance" / "processes"


def person(name: str, born: date | None = date(1980, 5, 17)) -> Customer:
    return services.customer_create(name=name, date_of_birth=born)


def contact(customer: Customer, kind: str, value: str) -> ContactPoint:
    return services.contact_point_add(customer=customer, kind=kind, value=value, by=None)


def address(customer: Customer, street: str) -> Address:
    return services.address_change(
        customer=customer,
        street=street,
        postal_code="10115",
        city="Berlin",
        by=None,
        valid_from=date(2020, 1, 1),
    )


def contact_record(customer: Customer) -> Interaction:
    return services.interaction_record(
        customer=customer,
        channel=Channel.PHONE,
        direction=Direction.INBOUND,
        occurred_at=timezone.now() - timedelta(hours=1),
    )


@pytest.mark.django_db
def test_duplicates_share_a_phone_number_or_a_similar_name_and_birth_date() -> None:
    anna = person("Anna Müller")
    contact(anna, ContactKind.MOBILE, "0151 11112222")
    by_name = person("Anna Mueller")
    by_phone = person("A. M.", born=None)
    contact(by_phone, ContactKind.PHONE, "+49 151 1111 2222")  # the mobile, typed as landline
    person("Anna Müller", born=date(1990, 1, 1))  # same name, other birth date: not suggested
    person("Bernd Meier")

    found = {d.customer.pk: d.reasons for d in merging.customer_duplicates(customer=anna)}

    assert set(found) == {by_name.pk, by_phone.pk}
    assert found[by_phone.pk] == ["same phone number"]
    assert found[by_name.pk] == ["similar name, same birth date"]


@pytest.fixture
def pair(agent):
    """Anna (kept) and her duplicate, each with contacts, an address, a holding and history;
    the duplicate has a case in progress with a guided process half done."""
    anna = person("Anna Müller")
    contact(anna, ContactKind.MOBILE, "0151 11112222")
    address(anna, "Hauptstr. 1")
    HoldingFactory(customer=anna, contract_number="V-A-1")
    contact_record(anna)
    dup = person("Anna Mueller")
    contact(dup, ContactKind.MOBILE, "0171 33334444")
    contact(dup, ContactKind.EMAIL, "anna@example.org")
    address(dup, "Nebenstr. 2")
    HoldingFactory(customer=dup, contract_number="V-D-1")
    contact_record(dup)
    contact_record(dup)
    case = CaseFactory(customer=dup, state=CaseState.NEW)
    version = process_import(
        text=(PROCESSES / "change-of-address.yaml").read_text(), by=None, publish=True
    )
    guided.run_start(case=case, version=version, by=agent)
    case_note_add(case=case, by=agent, text="called back")
    return anna, dup, case


def snapshot(customer: Customer) -> dict[str, set]:
    return {
        "contacts": set(
            ContactPoint.objects.filter(customer=customer).values_list("id", "primary")
        ),
        "addresses": set(
            Address.objects.filter(customer=customer).values_list("id", "valid_until")
        ),
        "holdings": set(Holding.objects.filter(customer=customer).values_list("id", flat=True)),
        "interactions": set(
            Interaction.objects.filter(customer=customer).values_list("id", flat=True)
        ),
        "cases": set(Case.objects.filter(customer=customer).values_list("id", "state")),
        "events": set(CaseEvent.objects.filter(customer=customer).values_list("id", flat=True)),
        "runs": set(GuidedRun.objects.filter(customer=customer).values_list("id", flat=True)),
    }


@pytest.mark.django_db
def test_merge_moves_everything_and_undo_moves_it_back(pair, supervisor) -> None:
    anna, dup, _case = pair
    before = {"anna": snapshot(anna), "dup": snapshot(dup)}

    merge = merging.customer_merge(source=dup, target=anna, by=supervisor)

    merged = snapshot(anna)
    for key in ("holdings", "interactions", "cases", "events", "runs"):
        assert merged[key] == before["anna"][key] | before["dup"][key], key
    assert snapshot(dup)["interactions"] == set()
    assert ContactPoint.objects.filter(customer=anna).count() == 3
    # One primary mobile: Anna's stays primary, the duplicate's is demoted.
    assert ContactPoint.objects.filter(customer=anna, kind="mobile", primary=True).count() == 1
    assert Address.objects.current().get(customer=anna).street == "Hauptstr. 1"
    dup.refresh_from_db()
    assert dup.merged_into == anna
    assert customer_identify(query=dup.number) == anna  # the old number leads to Anna
    assert dup not in customer_search(query="Anna")
    assert CustomerChange.objects.filter(customer=anna, field="merged_from").exists()

    merging.customer_merge_undo(merge=merge, by=supervisor)

    assert snapshot(anna) == before["anna"]
    assert snapshot(dup) == before["dup"]
    dup.refresh_from_db()
    assert dup.merged_into is None
    actions = list(AuditEvent.objects.filter(customer=anna).values_list("action", flat=True))
    assert sorted(actions) == [AuditAction.MERGE, AuditAction.MERGE_UNDO]


@pytest.mark.django_db
def test_a_case_in_progress_goes_on_after_the_merge_and_after_the_undo(
    pair, agent, supervisor
) -> None:
    anna, dup, case = pair
    merge = merging.customer_merge(source=dup, target=anna, by=supervisor)
    run = GuidedRun.objects.get(case=case)
    guided.run_step_submit(
        case=case, by=agent, data={"identity_confirmed": "yes"}, revision=run.revision
    )
    run.refresh_from_db()
    assert run.current_step == "new-address"
    assert run.customer_id == anna.pk
    case.refresh_from_db()
    assert case.state == CaseState.OPEN

    merging.customer_merge_undo(merge=merge, by=supervisor)

    run.refresh_from_db()
    case.refresh_from_db()
    assert (run.customer_id, case.customer_id) == (dup.pk, dup.pk)
    assert run.current_step == "new-address"  # the progress made meanwhile stays
    assert set(CaseEvent.objects.filter(case=case).values_list("customer_id", flat=True)) == {
        dup.pk
    }


@pytest.mark.django_db
def test_records_made_after_the_merge_stay_with_the_kept_customer(pair, supervisor) -> None:
    anna, dup, _case = pair
    merge = merging.customer_merge(source=dup, target=anna, by=supervisor)
    later = contact_record(anna)
    merging.customer_merge_undo(merge=merge, by=supervisor)
    later.refresh_from_db()
    assert later.customer_id == anna.pk


@pytest.mark.django_db
def test_merge_refuses_itself_twice_and_a_second_undo(pair, supervisor) -> None:
    anna, dup, _case = pair
    with pytest.raises(ValidationError):
        merging.customer_merge(source=anna, target=anna, by=supervisor)
    merge = merging.customer_merge(source=dup, target=anna, by=supervisor)
    with pytest.raises(ValidationError):
        merging.customer_merge(source=dup, target=anna, by=supervisor)
    merging.customer_merge_undo(merge=merge, by=supervisor)
    with pytest.raises(ValidationError):
        merging.customer_merge_undo(merge=merge, by=supervisor)


@pytest.mark.django_db
def test_supervisor_merges_and_undoes_in_the_browser_views(pair, supervisor_client: Client) -> None:
    anna, dup, _case = pair
    page = supervisor_client.get(reverse("customers:customer-duplicates", args=[anna.pk]))
    assert f'data-duplicate="{dup.number}"' in page.content.decode()
    response = supervisor_client.post(
        reverse("customers:customer-merge", args=[anna.pk]), {"source": dup.pk}
    )
    assert response.status_code == 302
    assert Case.objects.filter(customer=anna).count() == 1
    for customer in (anna, dup):  # both timelines show the merge
        page = supervisor_client.get(customer.get_absolute_url())
        assert "merged with customer" in page.content.decode()
    merge = anna.merges.get()
    response = supervisor_client.post(reverse("customers:merge-undo", args=[merge.pk]))
    assert response.status_code == 302
    assert Case.objects.filter(customer=dup).count() == 1


@pytest.mark.django_db
def test_agents_may_not_merge(pair, agent_client: Client) -> None:
    anna, dup, _case = pair
    response = agent_client.post(
        reverse("customers:customer-merge", args=[anna.pk]), {"source": dup.pk}
    )
    assert response.status_code == 403
    assert Case.objects.filter(customer=dup).count() == 1
