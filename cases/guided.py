"""Guided runs: walking a case through its process, step by step (services and reads).

Guidance decides (which form, which route, which actions); this module records the run on
the case and carries the actions out. Every change locks the run and checks the revision
the agent saw, so two agents on one run end with one winner and a clear message.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from cases.models import (
    FINISHED_RUN_STATUSES,
    Case,
    CaseEvent,
    CaseEventKind,
    CaseState,
    GuidedRun,
    GuidedStepRecord,
    RunStatus,
)
from cases.outbox import outbound_queue
from cases.services import (
    CaseActionError,
    CaseConflict,
    TransitionInput,
    TransitionRefused,
    case_transition,
    exception_raise,
)
from customers import services as customer_services
from customers.models import Customer, Holding
from guidance.engine import (
    Advance,
    action_params,
    answers_from_form,
    progress,
    step_advance,
    step_form_class,
)
from guidance.facts import customer_facts
from guidance.markdown import render_markdown
from guidance.models import ActionKind, ProcessVersion
from guidance.process import ProcessSpec, StepSpec
from guidance.rules import RuleError
from guidance.selectors import published_version, version_spec

SETTABLE_CASE_FIELDS = {"subject"}
GUIDED_SOURCE = "guided-process"  # exceptions a process flags; decided on the Decisions page
# What a `send_message` action may send: subject and text in the customer's language.
MESSAGE_TEMPLATES = {
    "address-changed": (
        gettext_lazy("Your new address"),
        gettext_lazy(
            "Hello %(name)s, we have changed your address as you asked (case %(reference)s)."
        ),
    ),
    "complaint-resolved": (
        gettext_lazy("Your complaint"),
        gettext_lazy(
            "Hello %(name)s, thank you for telling us. We have dealt with your complaint "
            "(case %(reference)s) and are sorry for the trouble."
        ),
    ),
    "cancellation-confirmed": (
        gettext_lazy("Your cancellation"),
        gettext_lazy(
            "Hello %(name)s, we confirm the cancellation of your contract (case %(reference)s)."
        ),
    ),
    "return-label": (
        gettext_lazy("Your return"),
        gettext_lazy(
            "Hello %(name)s, your return is registered (case %(reference)s); the label "
            "follows in a separate e-mail."
        ),
    ),
}


def address_update(customer: Customer, params: dict[str, Any], by: AbstractBaseUser) -> None:
    customer_services.address_change(
        customer=customer,
        street=str(params.get("street") or ""),
        postal_code=str(params.get("postal_code") or ""),
        city=str(params.get("city") or ""),
        country=str(params.get("country") or "DE"),
        by=by,
    )


def payment_update(customer: Customer, params: dict[str, Any], by: AbstractBaseUser) -> None:
    """Change how the customer pays: one contract by number, else every active one."""
    holdings = Holding.objects.filter(customer=customer, status="active")
    if params.get("contract_number"):
        holdings = holdings.filter(contract_number=str(params["contract_number"]).upper())
    for holding in holdings:
        customer_services.holding_payment_change(
            holding=holding,
            payment_method=str(params.get("payment_method") or ""),
            iban=str(params.get("iban") or ""),
            by=by,
        )


CUSTOMER_UPDATES = {"address": address_update, "payment_method": payment_update}


class RunConflict(CaseConflict):
    """The run moved on since the agent's screen was drawn."""


@dataclass(frozen=True)
class StepView:
    """Everything the step panel shows."""

    run: GuidedRun
    process: ProcessSpec
    step: StepSpec
    instruction_html: str
    form: forms.Form | None
    position: int
    total: int
    answered: list[tuple[str, Any]]


def case_facts(case: Case, answers: dict[str, Any]) -> dict[str, Any]:
    """The facts rules read about this case (guidance/facts.py describes the shape)."""
    return {
        **customer_facts(case.customer),
        "case": {
            "reference": case.reference,
            "subject": case.subject,
            "state": case.state,
            "type": case.case_type.name_en if case.case_type else "",
            "category": case.case_type.category if case.case_type else "",
            "priority": case.priority,
            "channel": "",
        },
        "answers": answers,
    }


def case_note(case: Case, by: AbstractBaseUser | None, text: str) -> None:
    CaseEvent.objects.create(
        case=case, customer_id=case.customer_id, kind=CaseEventKind.NOTE, reason=text, by=by
    )


@transaction.atomic
def run_start(*, case: Case, version: ProcessVersion, by: AbstractBaseUser) -> GuidedRun:
    """Start the process on the case, on the version published now; opens a new case."""
    if GuidedRun.objects.filter(case=case).exclude(status__in=FINISHED_RUN_STATUSES).exists():
        raise RunConflict(_("A guided process is already running on this case."))
    if case.state == CaseState.NEW:
        case_transition(case=case, name="open", by=by)
    process = version_spec(version)
    run = GuidedRun.objects.create(
        case=case,
        customer_id=case.customer_id,
        version=version,
        current_step=process.start.key,
        started_by=by,
    )
    case_note(
        case,
        by,
        _("Guided process “%(name)s” v%(number)s started.")
        % {"name": process.name_en, "number": version.number},
    )
    return run


LOCK_RELATED = ("case__customer", "case__case_type", "version__definition")


def run_locked(run: GuidedRun, revision: int | None) -> GuidedRun:
    locked = (
        GuidedRun.objects.select_for_update(of=("self",))
        .select_related(*LOCK_RELATED)
        .get(pk=run.pk)
    )
    return revision_check(locked, revision)


def run_unfinished_locked(case: Case, revision: int | None) -> GuidedRun:
    """The case's unfinished run, locked, in one query; a refusal when there is none."""
    runs = GuidedRun.objects.select_for_update(of=("self",)).select_related(*LOCK_RELATED)
    locked = runs.filter(case=case).exclude(status__in=FINISHED_RUN_STATUSES).first()
    if locked is None:
        raise TransitionRefused(_("No process runs here."))
    return revision_check(locked, revision)


def revision_check(locked: GuidedRun, revision: int | None) -> GuidedRun:
    if revision is not None and locked.revision != revision:
        raise RunConflict(
            _("Someone else worked on this process meanwhile; here is where it stands now.")
        )
    return locked


def run_save(run: GuidedRun, **changes: Any) -> None:
    for name, value in changes.items():
        setattr(run, name, value)
    run.revision += 1
    run.updated_at = timezone.now()
    run.save()


@dataclass(frozen=True)
class StepResult:
    run: GuidedRun
    form: forms.Form


@transaction.atomic
def run_step_submit(
    *,
    case: Case,
    by: AbstractBaseUser,
    data: Any,
    revision: int | None,
    seconds_spent: int | None = None,
) -> StepResult:
    """Validate the step's answers, follow its route and carry out its actions.

    When the form has errors nothing was saved. A rule that fails or an action that flags
    an exception stops the run for a supervisor's decision.
    """
    run = run_unfinished_locked(case, revision)
    if run.status != RunStatus.ACTIVE:
        raise TransitionRefused(_("This process waits for a decision or is finished."))
    process = version_spec(run.version)
    step = process.step(run.current_step)
    form = step_form_class(step, (get_language() or "en")[:2])(data)
    if not form.is_valid():
        return StepResult(run, form)
    answers = {**run.answers, **answers_from_form(form)}
    facts = case_facts(run.case, answers)
    try:
        advance = step_advance(process, step.key, facts)
    except RuleError as error:
        advance = Advance(None, "", (), _("A rule could not decide: %(error)s") % {"error": error})
    record = GuidedStepRecord(
        run=run,
        kind=GuidedStepRecord.Kind.COMPLETED,
        step_key=step.key,
        answers=answers_from_form(form),
        next_step=advance.next_step or "",
        route_condition=advance.route_condition,
        seconds_spent=seconds_spent,
        by=by,
    )
    if advance.exception_reason:
        record.save()
        run_save(
            run,
            answers=answers,
            status=RunStatus.WAITING_DECISION,
            pending_step=advance.next_step or "",
            exception_reason=advance.exception_reason,
            decision_note="",
        )
        exception_raise(source=GUIDED_SOURCE, reason=advance.exception_reason, case=run.case)
        return StepResult(run, form)
    # A savepoint only where an action can refuse the answers; it costs two statements.
    refusable = any(a.kind == ActionKind.UPDATE_CUSTOMER for a in advance.actions)
    try:
        with transaction.atomic() if refusable else nullcontext():
            run_follow(run, advance, facts, by, record, answers)
    except ValidationError as error:
        # A customer update refused the answers (e.g. a postal code): nothing of the step
        # is kept, and the messages go to the fields the action took its values from.
        form_errors_add(form, process, advance, error)
    return StepResult(run, form)


def form_errors_add(
    form: forms.Form, process: ProcessSpec, advance: Advance, error: ValidationError
) -> None:
    """Put a service's refusal on the field it came from, or name that field's label."""
    labels = {f.key: f.label_en for f in process.field_specs()}
    if (get_language() or "en").startswith("de"):
        labels = {f.key: f.label_de for f in process.field_specs()}
    sources = {}
    for action in advance.actions:
        for name, value in action.params.items():
            root, _dot, key = str(value).partition(".")
            if root == "answers":
                sources[name] = key
    for name, messages in getattr(error, "message_dict", {"": error.messages}).items():
        key = sources.get(name)
        for message in messages:
            if key in form.fields:
                form.add_error(key, message)
            elif key:
                form.add_error(
                    None,
                    _("%(label)s: %(message)s Go back to correct it.")
                    % {"label": labels.get(key, key), "message": message},
                )
            else:
                form.add_error(None, message)


def run_follow(
    run: GuidedRun,
    advance: Advance,
    facts: dict[str, Any],
    by: AbstractBaseUser,
    record: GuidedStepRecord,
    answers: dict[str, Any],
) -> None:
    """Carry out the step's actions and move on (or finish at an end step)."""
    done, tasks = actions_run(run, advance, facts, by)
    record.actions = done
    record.save()
    finished = advance.next_step is None
    run_save(
        run,
        answers=answers,
        path=[*run.path, run.current_step],
        current_step=run.current_step if finished else advance.next_step,
        status=RunStatus.DONE if finished else RunStatus.ACTIVE,
        pending_step="",
        exception_reason="",
        manual_tasks=[*run.manual_tasks, *tasks],
    )


def actions_run(
    run: GuidedRun, advance: Advance, facts: dict[str, Any], by: AbstractBaseUser
) -> tuple[list[dict[str, Any]], list[str]]:
    """Execute what can be automated now; the rest becomes a to-do for the agent."""
    done, tasks = [], []
    for action in advance.actions:
        params = action_params(action, facts)
        outcome = action_execute(run, action.kind, params, by)
        done.append({"kind": action.kind, "params": params, "outcome": outcome})
        if outcome == "to do by hand":
            tasks.append(manual_task_text(action.kind, params))
    return done, tasks


def action_execute(run: GuidedRun, kind: str, params: dict[str, Any], by: AbstractBaseUser) -> str:
    case = run.case
    if kind == ActionKind.TRANSITION:
        name = str(params.get("transition", ""))
        data = TransitionInput(
            resolution=str(params.get("resolution") or ""), reason=_("Guided process")
        )
        try:
            case_transition(case=case, name=name, by=by, data=data)
        except CaseActionError as error:
            case_note(
                case,
                by,
                _("The process could not do “%(name)s”: %(error)s")
                % {"name": name, "error": error},
            )
            return f"refused: {error}"
        return "done"
    if kind == ActionKind.UPDATE_CUSTOMER and params.get("target") in CUSTOMER_UPDATES:
        CUSTOMER_UPDATES[params["target"]](case.customer, params, by)
        return "done"
    if kind == ActionKind.SEND_MESSAGE:
        return message_send(run, str(params.get("template", "")))
    if kind == ActionKind.SET_CASE_FIELD and params.get("field") in SETTABLE_CASE_FIELDS:
        Case.objects.filter(pk=case.pk).update(subject=str(params.get("value", ""))[:200])
        return "done"
    return "to do by hand"


def message_send(run: GuidedRun, template: str) -> str:
    """Queue a templated message through the outbox, once per run, step and template."""
    case, customer = run.case, run.case.customer
    if template not in MESSAGE_TEMPLATES or not customer.consent_service:
        return "to do by hand"
    subject, text = MESSAGE_TEMPLATES[template]
    with translation.override(customer.language):
        body = str(text) % {"name": customer.name, "reference": case.reference}
        subject = str(subject)
    message = outbound_queue(
        customer=customer,
        case=case,
        key=f"run-{run.pk}-{run.current_step}-{template}",
        subject=subject,
        body=body,
    )
    return "queued" if message is not None else "to do by hand"


def manual_task_text(kind: str, params: dict[str, Any]) -> str:
    details = ", ".join(
        f"{key}: {value}" for key, value in params.items() if value not in ("", None)
    )
    label = ActionKind(kind).label
    return f"{label} ({details})" if details else str(label)


@transaction.atomic
def run_step_back(*, case: Case, by: AbstractBaseUser, revision: int | None) -> GuidedRun:
    """Return to the previous step to revise its answers; recorded like any step."""
    run = run_unfinished_locked(case, revision)
    if run.status == RunStatus.DONE or not run.path:
        raise TransitionRefused(_("There is no earlier step to go back to."))
    previous = run.path[-1]
    GuidedStepRecord.objects.create(
        run=run,
        kind=GuidedStepRecord.Kind.BACK,
        step_key=run.current_step,
        next_step=previous,
        by=by,
    )
    run_save(
        run,
        path=run.path[:-1],
        current_step=previous,
        status=RunStatus.ACTIVE,
        pending_step="",
        exception_reason="",
    )
    return run


@transaction.atomic
def run_decide(
    *, run: GuidedRun, by: AbstractBaseUser, approve: bool, note: str, revision: int | None
) -> GuidedRun:
    """A supervisor's decision on an exception: approve continues, refuse returns the step."""
    run = run_locked(run, revision)
    if run.status != RunStatus.WAITING_DECISION:
        raise TransitionRefused(_("This process does not wait for a decision."))
    note = note.strip()[:2000]
    record = GuidedStepRecord.objects.create(
        run=run,
        kind=GuidedStepRecord.Kind.DECIDED,
        step_key=run.current_step,
        note=note,
        answers={"approved": approve},
        by=by,
    )
    verdict = _("approved") if approve else _("refused")
    case_note(
        run.case, by, _("Exception %(verdict)s. %(note)s") % {"verdict": verdict, "note": note}
    )
    if not approve:
        run_save(run, status=RunStatus.ACTIVE, exception_reason="", decision_note=note)
        return run
    process = version_spec(run.version)
    facts = case_facts(run.case, run.answers)
    try:
        advance = step_advance(process, run.current_step, facts)
    except RuleError:
        raise TransitionRefused(
            _("The rules still cannot decide this step: refuse it so the agent can correct it.")
        ) from None
    run.decision_note = note
    approved = Advance(
        advance.next_step,
        advance.route_condition,
        tuple(a for a in advance.actions if a.kind != ActionKind.FLAG_EXCEPTION),
    )
    run_follow(run, approved, facts, by, record, run.answers)
    return run


# --- reads ----------------------------------------------------------------------------


def run_current(*, case: Case) -> GuidedRun | None:
    """The case's unfinished run, else its latest finished one."""
    runs = GuidedRun.objects.filter(case=case).select_related("version__definition")
    return (
        runs.exclude(status__in=FINISHED_RUN_STATUSES).first()
        or runs.order_by("-started_at").first()
    )


def step_view(run: GuidedRun, form: forms.Form | None = None) -> StepView:
    process = version_spec(run.version)
    step = process.step(run.current_step)
    language = (get_language() or "en")[:2]
    if form is None and run.status == RunStatus.ACTIVE:
        initial = {f.key: run.answers.get(f.key) for f in step.fields if f.key in run.answers}
        form = step_form_class(step, language)(initial=form_initial(initial))
    position, total = progress(process, run.path, run.current_step)
    labels = {
        f.key: (f.label_de if language == "de" else f.label_en) for f in process.field_specs()
    }
    return StepView(
        run=run,
        process=process,
        step=step,
        instruction_html=render_markdown(step.instruction(language)),
        form=form,
        position=position,
        total=total,
        answered=[(labels.get(k, k), v) for k, v in run.answers.items()],
    )


def form_initial(answers: dict[str, Any]) -> dict[str, Any]:
    """Answers as a form shows them again (yes/no back to the choice values)."""
    return {k: ("yes" if v is True else "no" if v is False else v) for k, v in answers.items()}


def startable_versions() -> list[ProcessVersion]:
    return list(
        ProcessVersion.objects.published().select_related("definition").order_by("definition__key")
    )


def suggested_process_key(case: Case) -> str:
    """The process of the case's type, offered first when starting."""
    case_type = case.case_type
    return case_type.process.key if case_type and case_type.process_id else ""


@dataclass(frozen=True)
class DecisionRow:
    run: GuidedRun
    step_title: str
    answered: list[tuple[str, Any]]


def decision_rows() -> list[DecisionRow]:
    """The waiting runs with their step's title and labelled answers (specs are cached)."""
    language = (get_language() or "en")[:2]
    rows = []
    for run in decisions_waiting():
        process = version_spec(run.version)
        fields = {f.key: f for f in process.field_specs()}
        rows.append(
            DecisionRow(
                run=run,
                step_title=process.step(run.current_step).title(language),
                answered=[
                    (fields[key].label_de if language == "de" else fields[key].label_en, value)
                    if key in fields
                    else (key, value)
                    for key, value in run.answers.items()
                ],
            )
        )
    return rows


def decisions_waiting() -> list[GuidedRun]:
    return list(
        GuidedRun.objects.filter(status=RunStatus.WAITING_DECISION)
        .select_related("case__customer", "version__definition")
        .order_by("-updated_at")[:100]
    )


def version_for_start(*, process_key: str) -> ProcessVersion | None:
    return published_version(process_key=process_key)
