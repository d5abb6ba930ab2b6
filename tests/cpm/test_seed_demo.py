from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db.models import Count

from cases.models import Case, CaseEvent, CaseState
from customers.models import Customer, Interaction


@pytest.mark.django_db
def test_seed_demo_creates_users_customers_and_cases_in_every_state(settings) -> None:
    settings.DEBUG = True
    call_command("seed_demo", customers=60)
    assert Customer.objects.count() == 60
    assert set(Case.objects.values_list("state", flat=True)) == set(CaseState.values)
    channels = Interaction.objects.values("channel").annotate(n=Count("id"))
    assert len(channels) >= 4
    for username in ("agent", "supervisor", "admin"):
        assert User.objects.get(username=username).check_password("demo")
    for case in Case.objects.all():  # the last change of state led to the state it is in
        changes = case.events.filter(kind__in=["created", "transition"]).order_by("at", "id")
        assert changes.last().target == case.state


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_repeatable(settings) -> None:
    settings.DEBUG = True
    call_command("seed_demo", customers=30)
    first = list(Customer.objects.order_by("number").values_list("number", "name"))
    call_command("seed_demo", customers=30)
    assert list(Customer.objects.order_by("number").values_list("number", "name")) == first
    assert Customer.objects.count() == 30


@pytest.mark.django_db
def test_seed_demo_grows_to_the_requested_size(settings) -> None:
    settings.DEBUG = True
    call_command("seed_demo", customers=10)
    call_command("seed_demo", customers=25)
    assert Customer.objects.count() == 25
    assert len(set(Customer.objects.values_list("number", flat=True))) == 25
    assert CaseEvent.objects.count() >= Case.objects.count()


@pytest.mark.django_db
def test_demo_passwords_only_when_debug_is_on(settings) -> None:
    settings.DEBUG = False
    call_command("seed_demo", customers=0)
    assert not User.objects.get(username="agent").has_usable_password()


@pytest.mark.django_db
def test_demo_case_references_do_not_collide_with_new_cases(settings, agent) -> None:
    from cases.services import case_create

    settings.DEBUG = True
    call_command("seed_demo", customers=30)
    case = case_create(customer=Customer.objects.first(), subject="Neu", by=agent)
    assert Case.objects.filter(reference=case.reference).count() == 1


@pytest.mark.django_db
def test_seed_demo_creates_teams_case_types_and_sla_policies(settings) -> None:
    from cases.models import SlaPolicy, Team

    settings.DEBUG = True
    call_command("seed_demo", customers=12)
    call_command("seed_demo", customers=12)
    assert Team.objects.count() == 3
    assert SlaPolicy.objects.count() == 7 * 4
    assert Case.objects.filter(team__isnull=False).count() == Case.objects.count()


@pytest.mark.django_db
def test_seed_demo_active_cases_have_clocks_and_some_are_breached(settings) -> None:
    from cases.models import ACTIVE_STATES

    settings.DEBUG = True
    call_command("seed_demo", customers=150)
    active = Case.objects.filter(state__in=ACTIVE_STATES)
    assert active.filter(resolution_due__isnull=True).count() == 0
    assert active.filter(sla_breached_at__isnull=False).exists()
    assert active.filter(state=CaseState.WAITING_CUSTOMER, sla_paused_at__isnull=True).count() == 0
