"""The offer catalog: admins list, create, edit, retire and activate offers in the browser."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cases.models import OfferOutcome
from guidance.models import Offer, OfferKind, OfferResult
from tests.factories import CustomerFactory, HoldingFactory, OfferFactory

VALID = {
    "key": "router-upgrade",
    "kind": OfferKind.SERVICE,
    "name_de": "Router-Tausch",
    "name_en": "Router upgrade",
    "benefit_en": "faster Wi-Fi at no cost",
    "rule": 'holdings.exists(h, h.product == "DSL 100")',
    "value_weight": "2.50",
    "cooldown_days": "30",
    "cap_count": "3",
    "cap_days": "90",
    "control_percent": "10",
}


@pytest.mark.django_db
@pytest.mark.parametrize("count", [2, 30])
def test_catalog_lists_offers_with_counts_in_two_queries(
    admin_client, django_assert_max_num_queries, count: int
) -> None:
    offers = [OfferFactory(value_weight="3.00", control_percent=20) for _ in range(count)]
    retired = OfferFactory(active=False, key="zz-retired")
    customer = CustomerFactory()
    for result in [OfferResult.PRESENTED, OfferResult.ACCEPTED, OfferResult.ELIGIBLE]:
        OfferOutcome.objects.create(customer=customer, offer=offers[0], result=result)
    OfferOutcome.objects.create(
        customer=customer, offer=offers[0], result=OfferResult.ACCEPTED, control=True
    )
    admin_client.get(reverse("cases:offer-catalog"))  # session and permissions warm
    # session, user, 2 permissions, top bar roles, offers, counts: never one per offer
    with django_assert_max_num_queries(7):
        response = admin_client.get(reverse("cases:offer-catalog"))
    html = response.content.decode()
    assert response.status_code == 200
    row = html.split(f'data-offer="{offers[0].key}"')[1].split("</tr>")[0]
    cells = [c.split(">", 1)[1].split("<")[0] for c in row.split('class="num"')[1:]]
    assert cells == ["3.00", "20 %", "2", "1"]  # weight, control, presented, accepted
    assert f'data-offer="{retired.key}" class="muted"' in html
    assert "retired" in html


@pytest.mark.django_db
def test_create_with_an_unknown_name_in_the_rule_names_it_and_saves_nothing(
    admin_client,
) -> None:
    data = {**VALID, "rule": 'customer.tarif == "gold"'}
    response = admin_client.post(reverse("cases:offer-create"), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Not saved." in html
    assert "Unknown name “customer.tarif”" in html
    assert not Offer.objects.exists()


@pytest.mark.django_db
def test_create_with_mixed_kinds_of_values_is_refused(admin_client) -> None:
    data = {**VALID, "rule": 'customer.age > "18"'}
    response = admin_client.post(reverse("cases:offer-create"), data)
    assert response.status_code == 400
    assert "mixes kinds of values" in response.content.decode()
    assert not Offer.objects.exists()


@pytest.mark.django_db
def test_created_offer_shows_in_the_customers_panel(admin_client, agent_client) -> None:
    # No control group: with one, whether a customer sees it depends on its id (a hash).
    data = {**VALID, "channels": ["phone", "chat"], "control_percent": "0"}
    response = admin_client.post(reverse("cases:offer-create"), data)
    assert response.status_code == 302
    offer = Offer.objects.get(key="router-upgrade")
    assert offer.channels == ["phone", "chat"]
    assert offer.active
    holding = HoldingFactory(product="DSL 100")
    panel = agent_client.get(reverse("cases:customer-offers", args=[holding.customer_id]))
    assert "Router upgrade" in panel.content.decode()
    other = HoldingFactory(product="TV")
    panel = agent_client.get(reverse("cases:customer-offers", args=[other.customer_id]))
    assert "Router upgrade" not in panel.content.decode()


@pytest.mark.django_db
def test_edit_with_a_broken_rule_keeps_the_old_offer(admin_client) -> None:
    offer = OfferFactory(rule='customer.segment == "premium"')
    url = reverse("cases:offer-edit", args=[offer.pk])
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, {**VALID, "key": offer.key, "rule": "customer.segment =="})
    assert response.status_code == 400
    assert "The rule cannot be read" in response.content.decode()
    offer.refresh_from_db()
    assert offer.rule == 'customer.segment == "premium"'
    assert offer.name_en != VALID["name_en"]


@pytest.mark.django_db
def test_rule_check_answers_as_the_admin_types(admin_client) -> None:
    url = reverse("cases:offer-rule-check")
    ok = admin_client.post(url, {"rule": "customer.age >= 18"}).content.decode()
    assert 'class="rule-check ok"' in ok
    bad = admin_client.post(url, {"rule": "customer.nope"}).content.decode()
    assert 'class="rule-check error"' in bad
    assert "Unknown name “customer.nope”" in bad


@pytest.mark.django_db
def test_retire_takes_the_offer_off_the_panel_and_activate_brings_it_back(
    admin_client, agent_client
) -> None:
    offer = OfferFactory(name_en="Paper-free invoice")
    customer = CustomerFactory()
    panel_url = reverse("cases:customer-offers", args=[customer.pk])
    assert "Paper-free invoice" in agent_client.get(panel_url).content.decode()
    admin_client.post(reverse("cases:offer-activate", args=[offer.pk]), {"active": "0"})
    offer.refresh_from_db()
    assert not offer.active
    assert "Paper-free invoice" not in agent_client.get(panel_url).content.decode()
    admin_client.post(reverse("cases:offer-activate", args=[offer.pk]), {"active": "1"})
    offer.refresh_from_db()
    assert offer.active


@pytest.mark.django_db
def test_an_offer_whose_rule_no_longer_checks_is_not_activated(admin_client) -> None:
    offer = OfferFactory(active=False, rule="customer.removed_field")  # e.g. facts changed
    response = admin_client.post(
        reverse("cases:offer-activate", args=[offer.pk]), {"active": "1"}, follow=True
    )
    assert "Not activated." in response.content.decode()
    offer.refresh_from_db()
    assert not offer.active


@pytest.mark.django_db
def test_supervisors_may_not_change_the_catalog(supervisor_client) -> None:
    response = supervisor_client.post(reverse("cases:offer-create"), VALID)
    assert response.status_code == 403
    assert not Offer.objects.exists()


@pytest.mark.django_db
def test_top_bar_links_the_catalog_for_admins_only(admin_client, supervisor_client) -> None:
    link = reverse("cases:offer-catalog")
    assert link in admin_client.get(reverse("home")).content.decode()
    assert link not in supervisor_client.get(reverse("home")).content.decode()
