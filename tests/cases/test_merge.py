"""Merging a duplicate case into another, and undoing it (cases.services.case_merge/unmerge)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import close_old_connections
from django.utils import timezone

from cases import guided
from cases.intake import inbound_receive
from cases.models import (
    Case,
    CaseEvent,
    CaseLink,
    CaseMerge,
    CaseState,
    ExceptionItem,
    GuidedRun,
    GuidedStepRecord,
    InboundMessage,
    RunStatus,
)
from cases.services import (
    CaseActionError,
    CaseConflict,
    TransitionForbidden,
    TransitionRefused,
    case_create,
    case_link,
    case_merge,
    case_unmerge,
)
from cpm.roles import Role
from customers.models import Interaction
from tests.cases.test_guided import publish, submit
from tests.cases.test_sla_clock import outage  # noqa: F401 (a fixture)
from tests.conftest import user_with_role
from tests.factories import CaseFactory, CustomerFactory, InteractionFactory

MERGEABLE = [
    CaseState.NEW,
    CaseState.OPEN,
    CaseState.WAITING_CUSTOMER,
    CaseState.WAITING_THIRD_PARTY,
    CaseState.RESOLVED,
]


def pair(state: str = CaseState.OPEN, **duplicate_fields: object) -> tuple[Case, Case]:
    """A duplicate and its target, of one customer."""
    target = CaseFactory(state=CaseState.OPEN, subject="Rechnung zu hoch")
    duplicate = CaseFactory(
        customer=target.customer, state=state, subject="Rechnung", **duplicate_fields
    )
    return duplicate, target


def contacts(case: Case, count: int) -> list[int]:
    return [
        InteractionFactory(customer=case.customer, case_reference=case.reference).pk
        for _ in range(count)
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("state", MERGEABLE)
def test_merge_moves_the_contacts_and_closes_the_duplicate(agent, state: str) -> None:
    duplicate, target = pair(state)
    moved = contacts(duplicate, 3)
    kept = contacts(target, 1)
    merge = case_merge(case=duplicate, into=target.reference.lower(), by=agent)
    duplicate.refresh_from_db()
    assert duplicate.state == CaseState.CLOSED
    assert duplicate.merged_into == target
    assert duplicate.resolution == f"Merged into {target.reference}."
    assert merge.state_before == state and merge.moved["interactions"] == moved
    on_target = Interaction.objects.filter(case_reference=target.reference)
    assert sorted(on_target.values_list("pk", flat=True)) == sorted(moved + kept)
    assert not Interaction.objects.filter(case_reference=duplicate.reference).exists()
    link = CaseLink.objects.get()
    assert (link.source, link.target, link.kind) == (duplicate, target, "duplicate")


@pytest.mark.django_db
def test_merge_writes_an_event_on_both_cases(agent) -> None:
    duplicate, target = pair()
    contacts(duplicate, 2)
    case_merge(case=duplicate, into=target, by=agent)
    event = CaseEvent.objects.get(case=duplicate, kind="transition")
    assert (event.transition, event.source, event.target, event.by) == (
        "merge",
        CaseState.OPEN,
        CaseState.CLOSED,
        agent,
    )
    assert event.reason == f"Merged into {target.reference}."
    note = CaseEvent.objects.get(case=target)
    assert note.reason == f"{duplicate.reference} was merged into this case; 2 contacts moved here."


@pytest.mark.django_db
def test_undo_moves_back_exactly_what_moved_and_restores_the_state(supervisor, agent) -> None:
    resolved_at = timezone.now() - timedelta(days=1)
    duplicate, target = pair(CaseState.RESOLVED, resolution="Credit note", resolved_at=resolved_at)
    moved = contacts(duplicate, 2)
    kept = contacts(target, 1)
    message = InboundMessage.objects.create(
        channel="email", external_id="<1@x>", payload={}, case=duplicate
    )
    case_merge(case=duplicate, into=target, by=agent)
    assert InboundMessage.objects.get(pk=message.pk).case == target
    later = contacts(target, 1)  # recorded on the target after the merge: stays there
    merge = case_unmerge(case=duplicate, by=supervisor)
    duplicate.refresh_from_db()
    assert (duplicate.state, duplicate.merged_into, duplicate.resolution) == (
        CaseState.RESOLVED,
        None,
        "Credit note",
    )
    assert duplicate.resolved_at == resolved_at
    assert sorted(
        Interaction.objects.filter(case_reference=duplicate.reference).values_list("pk", flat=True)
    ) == sorted(moved)
    assert sorted(
        Interaction.objects.filter(case_reference=target.reference).values_list("pk", flat=True)
    ) == sorted(kept + later)
    assert InboundMessage.objects.get(pk=message.pk).case == duplicate
    assert not CaseLink.objects.exists()
    assert (merge.undone_by, merge.undone_at is not None) == (supervisor, True)
    event = CaseEvent.objects.get(case=duplicate, transition="unmerge")
    assert (event.source, event.target) == (CaseState.CLOSED, CaseState.RESOLVED)
    assert CaseEvent.objects.filter(case=target, reason__startswith="Merge of").count() == 1


@pytest.mark.django_db
def test_undo_gives_an_existing_link_its_kind_back(agent, supervisor) -> None:
    duplicate, target = pair()
    case_link(case=target, reference=duplicate.reference, by=agent)
    case_merge(case=duplicate, into=target, by=agent)
    assert CaseLink.objects.get().kind == "duplicate"
    case_unmerge(case=duplicate, by=supervisor)
    assert CaseLink.objects.get().kind == "related"


@pytest.mark.django_db
def test_a_case_can_be_merged_again_after_an_undo(agent, supervisor) -> None:
    duplicate, target = pair()
    case_merge(case=duplicate, into=target, by=agent)
    case_unmerge(case=duplicate, by=supervisor)
    duplicate.refresh_from_db()
    case_merge(case=duplicate, into=target, by=agent)
    assert CaseMerge.objects.filter(duplicate=duplicate).count() == 2
    assert CaseMerge.objects.filter(duplicate=duplicate, undone_at__isnull=True).count() == 1


@pytest.mark.django_db
def test_merge_stops_the_sla_clock_and_undo_resumes_it(
    agent,
    supervisor,
    outage,  # noqa: F811 (the fixture imported above)
) -> None:
    target = CaseFactory(state=CaseState.OPEN)
    duplicate = case_create(customer=target.customer, subject="Outage", by=agent, case_type=outage)
    case_merge(case=duplicate, into=target, by=agent)
    duplicate.refresh_from_db()
    assert duplicate.sla_paused_at is not None
    case_unmerge(case=duplicate, by=supervisor)
    duplicate.refresh_from_db()
    assert duplicate.sla_paused_at is None
    kinds = list(
        CaseEvent.objects.filter(case=duplicate, kind="sla")
        .order_by("at", "id")
        .values_list("transition", flat=True)
    )
    assert kinds[-2:] == ["stopped", "resumed"]


@pytest.mark.django_db
def test_merge_refuses_the_case_itself_and_an_unknown_reference(agent) -> None:
    duplicate, _target = pair()
    with pytest.raises(CaseActionError, match="into itself"):
        case_merge(case=duplicate, into=duplicate.reference, by=agent)
    with pytest.raises(CaseActionError, match="There is no case C-1999-000001"):
        case_merge(case=duplicate, into=" c-1999-000001 ", by=agent)
    assert not CaseMerge.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("other_customer", "belongs to another customer"),
        ("target_closed", "is Closed; merge into a case that is still open"),
        ("target_cancelled", "is Cancelled"),
        ("target_merged", "was itself merged into another case"),
        ("holds_merged", "a case that holds merged cases cannot itself be merged"),
        ("waiting_decision", "waiting for a supervisor's decision"),
        ("open_exception", "waiting for a supervisor's decision"),
    ],
)
def test_merge_refusals_name_the_reason_and_change_nothing(
    agent, supervisor, setup: str, message: str
) -> None:
    duplicate, target = pair()
    if setup == "other_customer":
        Case.objects.filter(pk=target.pk).update(customer=CustomerFactory())
    elif setup in ("target_closed", "target_cancelled"):
        Case.objects.filter(pk=target.pk).delete()
        state = CaseState.CLOSED if setup == "target_closed" else CaseState.CANCELLED
        target = CaseFactory(customer=duplicate.customer, state=state)
    elif setup == "target_merged":
        final = CaseFactory(customer=duplicate.customer, state=CaseState.OPEN)
        case_merge(case=target, into=final, by=agent)
    elif setup == "holds_merged":
        third = CaseFactory(customer=duplicate.customer, state=CaseState.OPEN)
        case_merge(case=third, into=duplicate, by=agent)
    elif setup == "waiting_decision":
        run = guided.run_start(case=duplicate, version=publish("complaint"), by=agent)
        run = submit(run, agent, complaint_text="Late", complaint_category="technician")
        run = submit(run, agent, goodwill_amount="80")
        assert GuidedRun.objects.filter(case=duplicate, status=RunStatus.WAITING_DECISION)
    else:
        ExceptionItem.objects.create(case=duplicate, source="sla", reason="Calendar missing")
    contacts(duplicate, 1)
    before = CaseMerge.objects.count()
    with pytest.raises(CaseActionError, match=message):
        case_merge(case=duplicate, into=target, by=agent)
    duplicate.refresh_from_db()
    assert (duplicate.state, duplicate.merged_into) == (CaseState.OPEN, None)
    assert Interaction.objects.filter(case_reference=duplicate.reference).count() == 1
    assert CaseMerge.objects.count() == before


@pytest.mark.django_db
def test_a_merged_case_is_not_merged_again(agent) -> None:
    duplicate, target = pair()
    other = CaseFactory(customer=duplicate.customer, state=CaseState.OPEN)
    case_merge(case=duplicate, into=target, by=agent)
    with pytest.raises(TransitionRefused, match="was merged into another case already"):
        case_merge(case=duplicate, into=other, by=agent)
    closed = CaseFactory(customer=duplicate.customer, state=CaseState.CLOSED)
    with pytest.raises(TransitionRefused, match="Closed cannot be merged"):
        case_merge(case=closed, into=other, by=agent)


@pytest.mark.django_db
def test_merge_from_an_old_screen_is_a_conflict(agent) -> None:
    duplicate, target = pair(CaseState.OPEN)
    with pytest.raises(CaseConflict, match="It is now Open"):
        case_merge(case=duplicate, into=target, by=agent, expected_state=CaseState.NEW)
    assert not CaseMerge.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "allowed"), [(Role.AGENT, False), (Role.SUPERVISOR, True), (Role.ADMIN, True)]
)
def test_an_escalated_duplicate_is_merged_by_supervisors_only(role: Role, allowed: bool) -> None:
    user = user_with_role("someone", role)
    duplicate, target = pair(CaseState.ESCALATED)
    if allowed:
        case_merge(case=duplicate, into=target, by=user)
        assert Case.objects.get(pk=duplicate.pk).state == CaseState.CLOSED
        return
    with pytest.raises(TransitionForbidden):
        case_merge(case=duplicate, into=target, by=user)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "allowed"), [(Role.AGENT, False), (Role.SUPERVISOR, True), (Role.ADMIN, True)]
)
def test_undo_is_for_supervisors_and_admins(agent, role: Role, allowed: bool) -> None:
    user = user_with_role("someone", role)
    duplicate, target = pair()
    case_merge(case=duplicate, into=target, by=agent)
    if allowed:
        case_unmerge(case=duplicate, by=user)
        assert Case.objects.get(pk=duplicate.pk).state == CaseState.OPEN
        return
    with pytest.raises(TransitionForbidden, match="undo a merge"):
        case_unmerge(case=duplicate, by=user)
    assert Case.objects.get(pk=duplicate.pk).state == CaseState.CLOSED


@pytest.mark.django_db
def test_undo_of_a_case_that_was_not_merged_is_refused(supervisor) -> None:
    with pytest.raises(TransitionRefused, match="not merged"):
        case_unmerge(case=CaseFactory(state=CaseState.CLOSED), by=supervisor)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_merges_of_one_duplicate_at_once_exactly_one_wins() -> None:
    agents = [user_with_role(f"agent{n}", Role.AGENT) for n in range(2)]
    duplicate, target = pair()
    other = CaseFactory(customer=duplicate.customer, state=CaseState.OPEN)
    moved = contacts(duplicate, 3)
    start = threading.Barrier(2)
    won: list[str] = []
    refused: list[BaseException] = []
    errors: list[BaseException] = []

    def press(user, into: Case) -> None:
        try:
            start.wait()
            case_merge(case=duplicate, into=into.reference, by=user, expected_state="open")
            won.append(into.reference)
        except CaseActionError as error:
            refused.append(error)
        except BaseException as error:  # collected and asserted below
            errors.append(error)
        finally:
            close_old_connections()

    threads = [
        threading.Thread(target=press, args=(agents[0], target)),
        threading.Thread(target=press, args=(agents[1], other)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(won) == len(refused) == 1
    assert isinstance(refused[0], CaseConflict)
    winner = Case.objects.get(reference=won[0])
    assert Case.objects.get(pk=duplicate.pk).merged_into == winner
    assert CaseMerge.objects.get().moved["interactions"] == moved
    assert Interaction.objects.filter(case_reference=winner.reference).count() == 3
    assert CaseEvent.objects.filter(case=duplicate, transition="merge").count() == 1


@pytest.mark.django_db
def test_a_message_quoting_the_merged_reference_goes_to_the_target(agent) -> None:
    duplicate, target = pair()
    case_merge(case=duplicate, into=target, by=agent)
    payload = {"external_id": "<m-1@x>", "from": "x@example.de", "subject": duplicate.reference}
    message = inbound_receive(channel="email", payload=payload).message
    assert message.case == target
    assert message.interaction.case_reference == target.reference


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_cases_merged_into_each_other_at_once_never_deadlock() -> None:
    agents = [user_with_role(f"agent{n}", Role.AGENT) for n in range(2)]
    one, two = pair()
    start = threading.Barrier(2)
    won: list[str] = []
    errors: list[BaseException] = []

    def press(user, case: Case, into: Case) -> None:
        try:
            start.wait()
            case_merge(case=case, into=into.reference, by=user)
            won.append(case.reference)
        except CaseActionError:
            pass  # the loser: refused with a message
        except BaseException as error:  # a deadlock would land here
            errors.append(error)
        finally:
            close_old_connections()

    threads = [
        threading.Thread(target=press, args=(agents[0], one, two)),
        threading.Thread(target=press, args=(agents[1], two, one)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(won) == 1
    assert CaseMerge.objects.count() == 1
    assert Case.objects.filter(merged_into__isnull=False).count() == 1


@pytest.mark.django_db
def test_erasing_the_customer_drops_the_resolution_kept_for_the_undo(agent, supervisor) -> None:
    from customers.privacy import customer_erase

    duplicate, target = pair(CaseState.RESOLVED, resolution="Anna's IBAN DE02 was wrong")
    case_merge(case=duplicate, into=target, by=agent)
    customer = duplicate.customer
    customer_erase(customer=customer, by=supervisor, confirm=customer.number)
    assert CaseMerge.objects.get().resolution_before == ""


@pytest.mark.django_db
def test_a_guided_run_in_progress_on_the_duplicate_ends_as_abandoned(agent, supervisor) -> None:
    duplicate, target = pair()
    run = guided.run_start(case=duplicate, version=publish("complaint"), by=agent)
    revision = run.revision
    case_merge(case=duplicate, into=target, by=agent)
    run.refresh_from_db()
    assert run.status == RunStatus.ABANDONED and run.revision == revision + 1
    record = run.records.get(kind=GuidedStepRecord.Kind.ABANDONED)
    assert (record.step_key, record.by) == (run.current_step, agent)
    assert target.reference in record.note
    with pytest.raises(TransitionRefused):  # a screen still showing the step
        submit(run, agent, complaint_text="Late", complaint_category="technician")
    case_unmerge(case=duplicate, by=supervisor)  # the undo does not restart it
    run.refresh_from_db()
    assert run.status == RunStatus.ABANDONED
    assert guided.run_start(case=duplicate, version=publish("complaint"), by=agent).pk != run.pk


@pytest.mark.django_db
def test_a_finished_run_stays_done_after_a_merge(agent) -> None:
    duplicate, target = pair()
    run = guided.run_start(case=duplicate, version=publish("complaint"), by=agent)
    GuidedRun.objects.filter(pk=run.pk).update(status=RunStatus.DONE)
    case_merge(case=duplicate, into=target, by=agent)
    run.refresh_from_db()
    assert run.status == RunStatus.DONE and not run.records.exists()
