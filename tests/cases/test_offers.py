"""The offers panel, recording outcomes, starting the offer's process, and the report."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from cases import offers
from cases.models import Case, CaseEvent, CaseState, GuidedRun, OfferOutcome
from customers.models import PaymentMethod
from guidance.models import OfferKind, OfferResult
from guidance.offers import in_control_group
from guidance.services import process_import
from tests.factories import CaseFactory, CustomerFactory, HoldingFactory, OfferFactory

PROCESSES = Path(__file__).resolve().parents[2] / "guidance" / "processes"
HTMX = {"HTTP_HX_REQUEST": "true"}
TRANSFER = 'holdings.exists(h, h.payment_method == "bank_transfer")'


def publish(key: str):
    return process_import(text=(PROCESSES / f"{key}.yaml").read_text(), by=None, publish=True)


def direct_debit_offer(**fields):
    return OfferFactory(
        key="direct-debit",
        name_en="Switch to direct debit",
        benefit_en="pays by bank transfer; direct debit saves 1.50 EUR a month per invoice",
        rule=TRANSFER,
        process_key="direct-debit",
        **fields,
    )


@pytest.mark.django_db
def test_panel_shows_the_action_with_its_reason_and_notes_it_eligible_once(agent_client) -> None:
    holding = HoldingFactory(payment_method=PaymentMethod.BANK_TRANSFER)
    direct_debit_offer()
    OfferFactory(rule='customer.segment == "premium"', name_en="Premium upgrade")
    url = reverse("cases:customer-offers", args=[holding.customer_id])
    response = agent_client.get(url)
    assert response.status_code == 200
    assert b"Switch to direct debit" in response.content
    assert b"saves 1.50 EUR a month per invoice" in response.content
    assert b"Premium upgrade" not in response.content
    agent_client.get(url)
    eligible = OfferOutcome.objects.filter(result=OfferResult.ELIGIBLE)
    assert eligible.count() == 1  # once, not per view


@pytest.mark.django_db
@pytest.mark.parametrize("count", [5, 50])
def test_panel_needs_the_same_queries_for_5_or_50_offers(
    agent_client, django_assert_num_queries, count: int
) -> None:
    customer = CustomerFactory(consent_marketing=True)
    for _ in range(20):
        HoldingFactory(customer=customer)
    for n in range(count):
        OfferFactory(rule=TRANSFER if n % 2 else 'customer.segment == "private"')
    url = reverse("cases:customer-offers", args=[customer.pk])
    agent_client.get(url)  # notes the eligible offers, fills the tally cache
    # session, user, customer (the permissions come from the cache); the panel: catalog,
    # the customer's history, holdings (the segment's tallies come from the cache; a
    # fragment never looks up the top bar's roles)
    with django_assert_num_queries(6):
        agent_client.get(url)


@pytest.mark.django_db
def test_a_broken_rule_never_breaks_the_panel(agent_client) -> None:
    customer = CustomerFactory()
    OfferFactory(rule='holdings[5].product == "TV"', name_en="Broken")
    OfferFactory(name_en="Fine")
    response = agent_client.get(reverse("cases:customer-offers", args=[customer.pk]))
    assert response.status_code == 200
    assert b"Fine" in response.content and b"Broken" not in response.content


@pytest.mark.django_db
def test_declined_needs_a_reason_and_then_cools_down(agent, agent_client) -> None:
    customer = CustomerFactory()
    offer = OfferFactory(name_en="Paperless invoice", cooldown_days=30)
    url = reverse("cases:offer-outcome-save", args=[customer.pk])
    response = agent_client.post(url, {"offer": offer.pk, "result": "declined"}, **HTMX)
    assert response.status_code == 400
    assert "Choose why the customer declined." in response.content.decode()
    response = agent_client.post(
        url, {"offer": offer.pk, "result": "declined", "reason": "price"}, **HTMX
    )
    assert response.status_code == 200
    assert b"Paperless invoice" not in response.content
    outcome = OfferOutcome.objects.get(result=OfferResult.DECLINED)
    assert (outcome.decline_reason, outcome.by, outcome.segment) == ("price", agent, "private")


@pytest.mark.django_db
def test_accepting_on_a_case_starts_the_process_there_and_notes_it(agent, agent_client) -> None:
    publish("direct-debit")
    case = CaseFactory(state=CaseState.OPEN)
    HoldingFactory(customer=case.customer)
    offer = direct_debit_offer()
    response = agent_client.post(
        reverse("cases:offer-outcome-save", args=[case.customer_id]),
        {"offer": offer.pk, "result": "accepted", "case": case.reference},
        **HTMX,
    )
    assert response.status_code == 200
    assert "case:guided-started" in response["HX-Trigger"]
    run = GuidedRun.objects.get(case=case)
    assert run.current_step == "mandate"
    assert CaseEvent.objects.filter(case=case, reason__contains="Accepted").exists()
    assert OfferOutcome.objects.get(result=OfferResult.ACCEPTED).case == case


@pytest.mark.django_db
def test_accepting_in_the_cockpit_opens_a_case_with_the_process(agent, agent_client) -> None:
    publish("direct-debit")
    holding = HoldingFactory()
    offer = direct_debit_offer()
    response = agent_client.post(
        reverse("cases:offer-outcome-save", args=[holding.customer_id]),
        {"offer": offer.pk, "result": "accepted"},
        **HTMX,
    )
    case = Case.objects.get(customer=holding.customer)
    assert response["HX-Redirect"] == case.get_absolute_url()
    assert case.state == CaseState.OPEN and case.assignee == agent
    assert GuidedRun.objects.get(case=case).current_step == "mandate"


@pytest.mark.django_db
def test_the_control_group_is_noted_but_not_shown(agent_client) -> None:
    offer = OfferFactory(control_percent=50, name_en="Held out maybe")
    customers = [CustomerFactory() for _ in range(12)]
    for customer in customers:
        response = agent_client.get(reverse("cases:customer-offers", args=[customer.pk]))
        held = in_control_group(customer.pk, offer.pk, 50)
        assert (b"Held out maybe" in response.content) is not held
        outcome = OfferOutcome.objects.get(customer=customer, result=OfferResult.ELIGIBLE)
        assert outcome.control is held


def outcome(customer, offer, result: str, *, control: bool = False) -> None:
    OfferOutcome.objects.create(customer=customer, offer=offer, result=result, control=control)


@pytest.mark.django_db
def test_report_numbers_match_a_hand_built_data_set(supervisor_client) -> None:
    offer = OfferFactory(kind=OfferKind.SALES, name_en="Router upgrade", control_percent=30)
    OfferFactory(name_en="Never shown")
    treated = [CustomerFactory() for _ in range(10)]
    held = [CustomerFactory() for _ in range(5)]
    for customer in treated:
        outcome(customer, offer, "eligible")
    for customer in held:
        outcome(customer, offer, "eligible", control=True)
    for customer in treated[:8]:  # 8 customers presented, two of them twice
        outcome(customer, offer, "presented")
    for customer in treated[:2]:
        outcome(customer, offer, "presented")
    for customer in treated[2:5]:
        outcome(customer, offer, "accepted")
    outcome(treated[5], offer, "declined")
    outcome(held[0], offer, "accepted", control=True)  # took it without being offered

    rows = {row.offer.name_en: row for row in offers.offer_report()}
    row = rows["Router upgrade"]
    assert (row.eligible, row.control, row.presented, row.accepted) == (15, 5, 8, 3)
    assert row.acceptance_rate == pytest.approx(3 / 8)
    # 3 of 10 shown against 1 of 5 held out: +10 points, se = sqrt(.3*.7/10 + .2*.8/5)
    assert row.uplift.difference == pytest.approx(0.10)
    assert row.uplift.low == pytest.approx(-0.3512, abs=1e-4)
    assert row.uplift.high == pytest.approx(0.5512, abs=1e-4)
    assert rows["Never shown"].eligible == 0 and rows["Never shown"].uplift is None

    response = supervisor_client.get(reverse("cases:offer-report"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "37.5 %" in page
    assert "10.0 pp" in page and "-35.1 … 55.1 pp" in page
    # The chart: 0 pp at x = 100; the interval from -35.1 to 55.1 pp, the dot at 10 pp.
    assert row.uplift_chart == {"point": 110.0, "low": 64.9, "high": 155.1, "width": 90.2}
    assert page.count('class="uplift-chart"') == 1


@pytest.mark.django_db
def test_agents_may_not_see_the_report(agent_client) -> None:
    assert agent_client.get(reverse("cases:offer-report")).status_code == 403


@pytest.mark.django_db
def test_panel_of_another_customers_case_is_refused(agent_client) -> None:
    case = CaseFactory()
    other = CustomerFactory()
    url = reverse("cases:customer-offers", args=[other.pk])
    assert agent_client.get(url, {"case": case.reference}).status_code == 404


@pytest.mark.django_db
def test_every_answer_to_an_offer_shows_on_the_customers_timeline(agent, agent_client) -> None:
    customer = CustomerFactory(consent_marketing=True)
    names = ["Paper-free invoice", "Router upgrade", "Premium line", "Insurance"]
    offers_ = [OfferFactory(name_en=name) for name in names]
    url = reverse("cases:offer-outcome-save", args=[customer.pk])
    answers = [
        {"result": OfferResult.PRESENTED},
        {"result": OfferResult.ACCEPTED},
        {"result": OfferResult.DECLINED, "reason": "price"},
        {"result": OfferResult.NOT_NOW},
    ]
    for offer, answer in zip(offers_, answers, strict=True):
        response = agent_client.post(url, {"offer": offer.pk, **answer}, **HTMX)
        assert response.status_code == 200
        assert "customer:timeline" in response["HX-Trigger"]
    timeline = agent_client.get(reverse("customers:customer-timeline", args=[customer.pk]))
    html = timeline.content.decode()
    for kind in ["offer_presented", "offer_accepted", "offer_declined", "offer_not_now"]:
        assert f'data-event="{kind}"' in html
    for text in [*names, "Offer declined", "Too expensive", "Offer: not now", agent.username]:
        assert text in html


@pytest.mark.django_db
def test_an_answer_on_a_case_links_the_case_on_the_timeline(agent_client) -> None:
    case = CaseFactory()
    offer = OfferFactory(name_en="Paper-free invoice")
    agent_client.post(
        reverse("cases:offer-outcome-save", args=[case.customer_id]),
        {"offer": offer.pk, "result": OfferResult.PRESENTED, "case": case.reference},
        **HTMX,
    )
    timeline = agent_client.get(reverse("customers:customer-timeline", args=[case.customer_id]))
    entry = timeline.content.decode().split('data-event="offer_presented"')[1].split("</li>")[0]
    assert case.reference in entry
    assert "Paper-free invoice" in entry


@pytest.mark.django_db
@pytest.mark.parametrize("answers", [2, 60])
def test_cockpit_queries_stay_bounded_with_many_offer_answers(
    agent, agent_client, django_assert_max_num_queries, answers: int
) -> None:
    customer = CustomerFactory(consent_marketing=True)
    HoldingFactory.create_batch(3, customer=customer)
    offers_ = [OfferFactory() for _ in range(4)]
    for n in range(answers):
        offers.offer_outcome_record(
            customer=customer,
            offer=offers_[n % 4],
            result=[OfferResult.PRESENTED, OfferResult.DECLINED][n % 2],
            decline_reason="price" if n % 2 else "",
            by=agent,
        )
    agent_client.get(customer.get_absolute_url())  # warm: session, permissions
    with django_assert_max_num_queries(16):  # the cockpit's 15 before, plus the events
        response = agent_client.get(customer.get_absolute_url())
    assert response.status_code == 200
    assert response.content.decode().count('class="entry kind-event') == min(answers, 25)
