"""Guided runs: an agent walks a case through its process; exceptions wait for a supervisor."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from cases import guided
from cases.models import CaseEvent, CaseState, GuidedRun, GuidedStepRecord, RunStatus
from cases.services import CaseConflict, TransitionRefused
from customers.models import Address
from guidance.models import ProcessVersion
from guidance.process import spec_load
from guidance.services import draft_create, draft_save, process_import, version_publish
from tests.factories import CaseFactory

PROCESSES = Path(__file__).resolve().parents[2] / "guidance" / "processes"
HTMX = {"HTTP_HX_REQUEST": "true"}


def publish(key: str) -> ProcessVersion:
    return process_import(text=(PROCESSES / f"{key}.yaml").read_text(), by=None, publish=True)


def submit(run: GuidedRun, agent, **answers) -> GuidedRun:
    run.refresh_from_db()
    result = guided.run_step_submit(case=run.case, by=agent, data=answers, revision=run.revision)
    assert not result.form.errors, result.form.errors
    run.refresh_from_db()
    return run


@pytest.mark.django_db
def test_change_of_address_from_first_step_to_resolved(agent) -> None:
    case = CaseFactory(state=CaseState.NEW)
    run = guided.run_start(case=case, version=publish("change-of-address"), by=agent)
    case.refresh_from_db()
    assert case.state == CaseState.OPEN  # starting work opens the case
    run = submit(run, agent, identity_confirmed="yes")
    assert run.current_step == "new-address"
    run = submit(
        run,
        agent,
        street="Hauptstr. 5",
        postal_code="10115",
        city="Berlin",
        moving_date="2026-12-01",
    )
    run = submit(run, agent)  # confirm: actions run
    assert run.current_step == "done"
    address = Address.objects.current().get(customer=case.customer)
    assert (address.street, address.postal_code, address.city) == ("Hauptstr. 5", "10115", "Berlin")
    assert any("address-changed" in task for task in run.manual_tasks)  # no outbox yet
    run = submit(run, agent)  # the end step resolves the case
    case.refresh_from_db()
    assert run.status == RunStatus.DONE
    assert case.state == CaseState.RESOLVED
    assert case.resolution == "Address changed."
    assert run.path == ["identify", "new-address", "confirm", "done"]
    assert GuidedStepRecord.objects.filter(run=run, kind="completed").count() == 4


@pytest.mark.django_db
def test_an_address_the_customer_service_refuses_keeps_the_step_open(agent) -> None:
    case = CaseFactory(state=CaseState.OPEN)
    run = guided.run_start(case=case, version=publish("change-of-address"), by=agent)
    run = submit(run, agent, identity_confirmed="yes")
    run = submit(
        run,
        agent,
        street="Hauptstr. 5",
        postal_code="1011",
        city="Berlin",
        moving_date="2026-12-01",
    )
    form = guided.run_step_submit(case=case, by=agent, data={}, revision=run.revision).form
    (message,) = form.non_field_errors()
    assert message.startswith("Postal code: A German postal code has five digits")
    run.refresh_from_db()
    assert run.current_step == "confirm"
    assert not Address.objects.filter(customer=case.customer).exists()
    assert not GuidedStepRecord.objects.filter(run=run, step_key="confirm").exists()


@pytest.mark.django_db
def test_invalid_answers_save_nothing(agent) -> None:
    case = CaseFactory(state=CaseState.OPEN)
    run = guided.run_start(case=case, version=publish("complaint"), by=agent)
    run = submit(run, agent, complaint_text="Late technician", complaint_category="technician")
    form = guided.run_step_submit(
        case=case, by=agent, data={"goodwill_amount": "-5"}, revision=run.revision
    ).form
    assert "goodwill_amount" in form.errors
    run.refresh_from_db()
    assert run.current_step == "goodwill"
    assert "goodwill_amount" not in run.answers


@pytest.mark.django_db
def test_goodwill_above_50_waits_for_a_supervisor_who_approves(agent, supervisor) -> None:
    case = CaseFactory(state=CaseState.OPEN)
    run = guided.run_start(case=case, version=publish("complaint"), by=agent)
    run = submit(run, agent, complaint_text="Late technician", complaint_category="technician")
    run = submit(run, agent, goodwill_amount="80")
    assert run.status == RunStatus.WAITING_DECISION
    assert run.exception_reason == "Goodwill above 50 EUR needs a supervisor's decision."
    assert run in guided.decisions_waiting()
    with pytest.raises(TransitionRefused):
        guided.run_step_submit(case=case, by=agent, data={}, revision=run.revision)
    guided.run_decide(
        run=run, by=supervisor, approve=True, note="OK, loyal customer", revision=run.revision
    )
    run.refresh_from_db()
    assert (run.status, run.current_step) == (RunStatus.ACTIVE, "close-complaint")
    run = submit(run, agent)
    case.refresh_from_db()
    assert case.state == CaseState.RESOLVED
    assert CaseEvent.objects.filter(case=case, reason__startswith="Exception approved").exists()


@pytest.mark.django_db
def test_refused_exception_returns_the_step_to_the_agent(agent, supervisor) -> None:
    case = CaseFactory(state=CaseState.OPEN)
    run = guided.run_start(case=case, version=publish("complaint"), by=agent)
    run = submit(run, agent, complaint_text="x", complaint_category="service")
    run = submit(run, agent, goodwill_amount="200")
    guided.run_decide(
        run=run, by=supervisor, approve=False, note="At most 50", revision=run.revision
    )
    run.refresh_from_db()
    assert (run.status, run.current_step, run.decision_note) == (
        RunStatus.ACTIVE,
        "goodwill",
        "At most 50",
    )
    run = submit(run, agent, goodwill_amount="50")
    assert run.current_step == "close-complaint"


@pytest.mark.django_db
def test_back_revises_an_earlier_answer_and_is_recorded(agent) -> None:
    case = CaseFactory(state=CaseState.OPEN)
    run = guided.run_start(case=case, version=publish("cancellation"), by=agent)
    run = submit(run, agent, cancel_reason="price")
    assert run.current_step == "retention"
    guided.run_step_back(case=case, by=agent, revision=run.revision)
    run.refresh_from_db()
    assert run.current_step == "reason" and run.path == []
    run = submit(run, agent, cancel_reason="moving")
    assert run.current_step == "moving-offer"
    assert GuidedStepRecord.objects.filter(run=run, kind="back").count() == 1


@pytest.mark.django_db
def test_stale_screen_cannot_overwrite_a_colleagues_step(agent, supervisor) -> None:
    case = CaseFactory(state=CaseState.OPEN)
    run = guided.run_start(case=case, version=publish("cancellation"), by=agent)
    seen = run.revision
    submit(run, supervisor, cancel_reason="price")
    with pytest.raises(CaseConflict, match="Someone else"):
        guided.run_step_submit(case=case, by=agent, data={"cancel_reason": "moving"}, revision=seen)
    run.refresh_from_db()
    assert run.answers["cancel_reason"] == "price"


@pytest.mark.django_db
def test_a_run_keeps_its_version_after_a_new_one_is_published(agent, admin_user) -> None:
    first = publish("complaint")
    case = CaseFactory(state=CaseState.OPEN)
    run = guided.run_start(case=case, version=first, by=agent)
    draft = draft_create(definition=first.definition, by=admin_user)
    spec = spec_load(draft)
    from dataclasses import replace

    step = replace(spec.steps[0], instruction_en="Brand new instruction")
    draft_save(version=draft, spec=replace(spec, steps=(step, *spec.steps[1:])))
    version_publish(version=draft, by=admin_user)
    assert "apologise" in guided.step_view(run).instruction_html
    other = guided.run_start(
        case=CaseFactory(state=CaseState.OPEN),
        version=guided.version_for_start(process_key="complaint"),
        by=agent,
    )
    assert "Brand new instruction" in guided.step_view(other).instruction_html


@pytest.mark.django_db
def test_only_one_unfinished_run_per_case(agent) -> None:
    case = CaseFactory(state=CaseState.OPEN)
    version = publish("complaint")
    guided.run_start(case=case, version=version, by=agent)
    with pytest.raises(CaseConflict, match="already running"):
        guided.run_start(case=case, version=version, by=agent)


@pytest.mark.django_db
def test_panel_flow_over_http_with_query_budget(
    agent_client, django_assert_max_num_queries
) -> None:
    publish("complaint")
    case = CaseFactory(state=CaseState.OPEN)
    start = agent_client.post(
        reverse("cases:case-guided-start", args=[case.reference]), {"process": "complaint"}, **HTMX
    )
    assert start.status_code == 200
    assert "case:changed" in start.headers["HX-Trigger"]
    run = GuidedRun.objects.get(case=case)
    url = reverse("cases:case-guided-submit", args=[case.reference])
    bad = agent_client.post(
        url, {"revision": run.revision, "complaint_category": "nonsense"}, **HTMX
    )
    assert bad.status_code == 400
    assert "Select a valid choice" in bad.content.decode()
    with django_assert_max_num_queries(25):
        ok = agent_client.post(
            url,
            {
                "revision": run.revision,
                "complaint_text": "<script>alert(1)</script>",
                "complaint_category": "service",
            },
            **HTMX,
        )
    html = ok.content.decode()
    assert ok.status_code == 200
    assert "Decide on goodwill" in html
    assert "<script>alert(1)</script>" not in html
    with django_assert_max_num_queries(12):
        agent_client.get(reverse("cases:case-guided", args=[case.reference]))


@pytest.mark.django_db
def test_supervisor_decides_on_the_decisions_page(agent, supervisor_client) -> None:
    case = CaseFactory(state=CaseState.OPEN)
    run = guided.run_start(case=case, version=publish("complaint"), by=agent)
    run = submit(run, agent, complaint_text="x", complaint_category="service")
    run = submit(run, agent, goodwill_amount="99")
    page = supervisor_client.get(reverse("cases:decisions")).content.decode()
    assert case.reference in page and "Goodwill above 50 EUR" in page
    response = supervisor_client.post(
        reverse("cases:decision-make", args=[run.pk]),
        {"decision": "approve", "note": "fine", "revision": run.revision},
        follow=True,
    )
    assert "Decision recorded" in response.content.decode()
    run.refresh_from_db()
    assert run.status == RunStatus.ACTIVE


@pytest.mark.django_db
def test_send_message_goes_through_the_outbox_once_in_the_customers_language(agent) -> None:
    from cases.models import OutboundMessage
    from customers.models import ContactKind
    from tests.factories import ContactPointFactory

    case = CaseFactory(state=CaseState.OPEN)
    customer = case.customer
    customer.consent_service = True
    customer.save()
    ContactPointFactory(
        customer=customer,
        kind=ContactKind.EMAIL,
        value="anna@example.de",
        normalised="anna@example.de",
    )
    run = guided.run_start(case=case, version=publish("change-of-address"), by=agent)
    run = submit(run, agent, identity_confirmed="yes")
    run = submit(
        run,
        agent,
        street="Hauptstr. 5",
        postal_code="10115",
        city="Berlin",
        moving_date="2026-12-01",
    )
    run = submit(run, agent)
    (message,) = OutboundMessage.objects.filter(case=case)
    assert message.recipient == "anna@example.de"
    assert message.subject == "Ihre neue Adresse"  # the customer speaks German
    assert case.reference in message.body
    assert not any("address-changed" in task for task in run.manual_tasks)
    guided.run_step_back(case=case, by=agent, revision=run.revision)
    run = submit(run, agent)  # the same step again: still one message
    assert OutboundMessage.objects.filter(case=case).count() == 1
