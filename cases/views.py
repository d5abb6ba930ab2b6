from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import (
    HttpResponseClientRedirect,
    HttpResponseClientRefresh,
    trigger_client_event,
)

from cases import guided, identify, intake, lifecycle, moves, replies, selectors, services
from cases.forms import AssignForm, DecisionForm, IdentifyForm, MergeForm, NoteForm, TransitionForm
from cases.models import FINISHED_RUN_STATUSES, Case, CaseState, GuidedRun
from customers.selectors import access_customer_by_id


@require_GET
@permission_required("cases.view_case", raise_exception=True)
def agent_home(request: HttpRequest) -> HttpResponse:
    """Roles: agent, supervisor, admin. My cases and my teams' queue (or all open cases)."""
    teams = selectors.user_teams(user=request.user)
    queue = selectors.team_queue_page(teams=teams) if teams else selectors.QueuePage([], "")
    context = {
        "my_cases": selectors.my_cases(user=request.user),
        "teams": teams,
        "queue": queue.cases,
        "queue_next_url": queue_next_url(queue),
        "open_cases": [],
    }
    if not teams:
        shown = selectors.open_cases(limit=selectors.HOME_LIST_SIZE + 1)
        context["open_cases"] = shown[: selectors.HOME_LIST_SIZE]
        context["open_cases_more"] = len(shown) > selectors.HOME_LIST_SIZE
    return render(request, "cases/home.html", context)


def queue_next_url(page: selectors.QueuePage) -> str:
    if not page.next_cursor:
        return ""
    return f"{reverse('cases:team-queue')}?{urlencode({'cursor': page.next_cursor})}"


@require_GET
@vary_on_headers("HX-Request")
@permission_required("cases.view_case", raise_exception=True)
def team_queue(request: HttpRequest) -> HttpResponse:
    """Roles: agent, supervisor, admin. My teams' queue, a page at a time (keyset)."""
    teams = selectors.user_teams(user=request.user)
    cursor = request.GET.get("cursor", "")[:200]
    if cursor and selectors.parse_queue_cursor(cursor) is None:
        return HttpResponseBadRequest(_("This queue position is not valid."))
    page = selectors.team_queue_page(teams=teams, cursor=cursor)
    context = {"teams": teams, "cases": page.cases, "next_url": queue_next_url(page)}
    template = "cases/partials/case_rows.html" if request.htmx else "cases/queue.html"
    return render(request, template, context)


@require_POST
@permission_required("cases.change_case", raise_exception=True)
def case_get_next(request: HttpRequest) -> HttpResponse:
    """Roles: agent, supervisor, admin. Take the most urgent waiting case of my teams."""
    case = services.case_get_next(user=request.user)
    if case is None:
        messages.info(request, _("No case is waiting in your teams' queues."))
        return redirect("home")
    return redirect(case)


@require_GET
@permission_required("cases.handle_escalation", raise_exception=True)
def escalation_inbox(request: HttpRequest) -> HttpResponse:
    """Roles: supervisor, admin. Escalated cases, newest first, each with its reason."""
    context = {"cases": selectors.escalation_inbox(), "exceptions": selectors.open_exceptions()}
    return render(request, "cases/escalation_inbox.html", context)


@require_GET
@permission_required("cases.change_casetype", raise_exception=True)
def case_lifecycle(request: HttpRequest) -> HttpResponse:
    """Roles: admin. The case life cycle as generated from the code (docs/case-lifecycle.md)."""
    context = {
        "edges": lifecycle.lifecycle_rows(),
        "mermaid": lifecycle.lifecycle_mermaid(),
    }
    return render(request, "cases/lifecycle.html", context)


@require_POST
@permission_required("cases.handle_escalation", raise_exception=True)
def exception_decide(request: HttpRequest, pk: int) -> HttpResponse:
    """Roles: supervisor, admin. Decide an exception; returns its row."""
    item = selectors.access_exception_by_id(user=request.user, pk=pk)
    form = DecisionForm(request.POST)
    try:
        if not form.is_valid():
            raise services.CaseActionError(form.first_error())
        item = services.exception_decide(
            item=item, by=request.user, decision=form.cleaned_data["decision"]
        )
    except services.CaseActionError as error:
        if not request.htmx:
            messages.error(request, str(error))
            return redirect("cases:escalation-inbox")
        context = {"item": item, "error": str(error), "typed": form.data}
        return render(request, "cases/partials/exception_row.html", context, status=error.status)
    if not request.htmx:
        return redirect("cases:escalation-inbox")
    return render(request, "cases/partials/exception_row.html", {"item": item})


@require_POST
@permission_required("cases.handle_escalation", raise_exception=True)
def exception_reprocess(request: HttpRequest, pk: int) -> HttpResponse:
    """Roles: supervisor, admin. Process a failed inbound message again (its exception's button)."""
    item = selectors.access_exception_by_id(user=request.user, pk=pk)
    if item.source != intake.INTAKE_SOURCE or item.decided_at is not None:
        raise Http404
    message = intake.inbound_reprocess(item=item, by=request.user)
    if message.status == "processed":
        messages.success(request, _("The message was processed and attached to its case."))
    else:
        messages.error(request, _("Processing failed again: %(error)s") % {"error": message.error})
    return redirect("cases:escalation-inbox")


@require_POST
@permission_required("cases.change_case", raise_exception=True)
def exception_identify(request: HttpRequest, pk: int) -> HttpResponse:
    """Roles: agent, supervisor, admin. Link an unknown sender's prospect to a customer (the
    prospect is merged into it). Posted from the case screen or the exception queue's row."""
    item = selectors.access_identify_item_by_id(user=request.user, pk=pk)
    form = IdentifyForm(request.POST)
    on_case = request.POST.get("where") == "case" and item.case is not None
    try:
        if not form.is_valid():
            raise services.CaseActionError(form.first_error())
        reference = form.cleaned_data["customer"]
        item = identify.identify_link(item=item, customer_reference=reference, by=request.user)
    except services.CaseActionError as error:
        if not request.htmx:
            messages.error(request, str(error))
            return redirect(item.case if on_case else "cases:escalation-inbox")
        template = "case_identify" if on_case else "exception_row"
        context = {"item": item, "case": item.case, "typed": form.data}
        context["identify_error"] = str(error)
        return render(request, f"cases/partials/{template}.html", context, status=error.status)
    if on_case:
        messages.success(request, item.decision)
        return HttpResponseClientRefresh() if request.htmx else redirect(item.case)
    if not request.htmx:
        return redirect("cases:escalation-inbox")
    return render(request, "cases/partials/exception_row.html", {"item": item})


@require_GET
@vary_on_headers("HX-Request")
@permission_required("cases.view_case", raise_exception=True)
def case_detail(request: HttpRequest, reference: str) -> HttpResponse:
    """Roles: agent, supervisor, admin. The case beside the customer's timeline."""
    case = selectors.access_case_by_reference(user=request.user, reference=reference)
    if request.htmx:
        return render_case_header(request, case)
    context = {**header_context(request, case), **history_context(case), **links_context(case)}
    context["inbound_messages"] = selectors.case_inbound_messages(case=case)
    context["identify_item"] = selectors.case_identify_item(case=case)
    context["panel"] = selectors.case_merge_panel(
        case=case, user=request.user, links=context["links"]
    )
    return render(request, "cases/case_detail.html", context)


@require_GET
@permission_required("cases.view_case", raise_exception=True)
def customer_cases(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Roles: agent, supervisor, admin. The customer's open cases, a panel of the cockpit."""
    customer = access_customer_by_id(user=request.user, pk=customer_id)
    cases = selectors.customer_active_cases(customer_id=customer.pk)
    context = {"customer": customer, "cases": cases}
    return render(request, "cases/partials/customer_cases.html", context)


@require_GET
@permission_required("cases.view_case", raise_exception=True)
def case_history(request: HttpRequest, reference: str) -> HttpResponse:
    """Roles: agent, supervisor, admin. The case's events and notes, with the note form."""
    case = selectors.access_case_by_reference(user=request.user, reference=reference)
    return render(request, "cases/partials/case_history.html", history_context(case))


@require_POST
@permission_required("cases.change_case", raise_exception=True)
def case_note_add(request: HttpRequest, reference: str) -> HttpResponse:
    """Roles: agent, supervisor, admin. Add an internal note; returns the history fragment."""
    case = selectors.access_case_by_reference(user=request.user, reference=reference)
    form = NoteForm(request.POST)
    try:
        if not form.is_valid():
            raise services.CaseActionError(form.first_error())
        services.case_note_add(case=case, by=request.user, text=form.cleaned_data["text"])
    except services.CaseActionError as error:
        if not request.htmx:
            messages.error(request, str(error))
            return redirect(case)
        context = {**history_context(case), "note_error": str(error), "typed_note": form.data}
        return render(request, "cases/partials/case_history.html", context, status=error.status)
    if not request.htmx:
        return redirect(case)
    return render(request, "cases/partials/case_history.html", history_context(case))


@require_POST
@permission_required("cases.change_case", raise_exception=True)
def inbound_confirm(request: HttpRequest, reference: str, pk: int) -> HttpResponse:
    """Roles: agent, supervisor, admin. Confirm a message whose sender quoted the reference."""
    case = selectors.access_case_by_reference(user=request.user, reference=reference)
    message = selectors.inbound_message_get(case=case, pk=pk)
    intake.inbound_confirm(message=message, by=request.user)
    messages.success(request, _("The message stays on this case; noted in its history."))
    return redirect(case)


@require_GET
@permission_required("cases.view_case", raise_exception=True)
def case_links(request: HttpRequest, reference: str) -> HttpResponse:
    """Roles: agent, supervisor, admin. The linked cases, with the form to link another."""
    case = selectors.access_case_by_reference(user=request.user, reference=reference)
    return render(request, "cases/partials/case_links.html", links_context(case))


@require_POST
@permission_required("cases.change_case", raise_exception=True)
def case_link_add(request: HttpRequest, reference: str) -> HttpResponse:
    """Roles: agent, supervisor, admin. Link another case by its reference."""
    case = selectors.access_case_by_reference(user=request.user, reference=reference)
    other = request.POST.get("reference", "")[:40]
    try:
        services.case_link(case=case, reference=other, by=request.user)
    except services.CaseActionError as error:
        if not request.htmx:
            messages.error(request, str(error))
            return redirect(case)
        context = {**links_context(case), "link_error": str(error), "typed_reference": other}
        return render(request, "cases/partials/case_links.html", context, status=error.status)
    if not request.htmx:
        return redirect(case)
    response = render(request, "cases/partials/case_links.html", links_context(case))
    return trigger_client_event(response, "case:changed", {"reference": case.reference})


@require_GET
@permission_required("cases.view_case", raise_exception=True)
def case_merge_panel(request: HttpRequest, reference: str) -> HttpResponse:
    """Roles: agent, supervisor, admin. What the case was merged into or holds, and the form."""
    case = selectors.access_case_by_reference(user=request.user, reference=reference)
    return render_merge_panel(request, case)


@require_POST
@permission_required("cases.change_case", raise_exception=True)
def case_merge(request: HttpRequest, reference: str) -> HttpResponse:
    """Roles: agent, supervisor, admin (an escalated case: supervisor and admin).

    Merge this duplicate into another case of the customer; the page reloads on success.
    """
    case = selectors.access_case_by_reference(user=request.user, reference=reference)
    form = MergeForm(request.POST)
    try:
        if not form.is_valid():
            raise services.CaseActionError(form.first_error())
        services.case_merge(
            case=case,
            into=form.cleaned_data["reference"],
            by=request.user,
            expected_state=form.cleaned_data["expected_state"],
        )
    except services.CaseActionError as error:
        return merge_refused(request, reference, error, typed=form.data)
    return case_reload(request, case)


@require_POST
@permission_required("cases.undo_casemerge", raise_exception=True)
def case_unmerge(request: HttpRequest, reference: str) -> HttpResponse:
    """Roles: supervisor, admin. Undo the merge of this case; the page reloads on success.

    Offered on the merged case and on the case it was merged into (`from`: the case whose
    panel shows a refusal and whose page follows).
    """
    case = selectors.access_case_by_reference(user=request.user, reference=reference)
    shown = request.POST.get("from", "").strip() or reference
    try:
        services.case_unmerge(case=case, by=request.user)
    except services.CaseActionError as error:
        return merge_refused(request, shown, error)
    if request.htmx:
        return HttpResponseClientRefresh()
    return redirect("cases:case-detail", shown)


def merge_refused(
    request: HttpRequest, reference: str, error: services.CaseActionError, **extra: object
) -> HttpResponse:
    """The panel with the reason (htmx), or the case page with a message."""
    if not request.htmx:
        messages.error(request, str(error))
        return redirect("cases:case-detail", reference)
    case = selectors.access_case_by_reference(user=request.user, reference=reference)
    return render_merge_panel(request, case, merge_error=str(error), status=error.status, **extra)


def case_reload(request: HttpRequest, case: Case) -> HttpResponse:
    """After a merge or its undo every panel of the page has changed: load it again."""
    if request.htmx:
        return HttpResponseClientRefresh()
    return redirect(case)


def render_merge_panel(
    request: HttpRequest, case: Case, *, status: int = 200, **extra: object
) -> HttpResponse:
    context = {"case": case, "panel": selectors.case_merge_panel(case=case, user=request.user)}
    return render(request, "cases/partials/case_merge.html", context | extra, status=status)


@require_POST
@permission_required("cases.add_case", raise_exception=True)
def case_follow_up(request: HttpRequest, reference: str) -> HttpResponse:
    """Roles: agent, supervisor, admin. Open a new case linked to a resolved or closed one."""
    case = selectors.access_case_by_reference(user=request.user, reference=reference)
    try:
        follow_up = services.case_follow_up_create(case=case, by=request.user)
    except services.CaseActionError as error:
        if request.htmx:
            return render_case_header(request, case, error=str(error), status=error.status)
        messages.error(request, str(error))
        return redirect(case)
    if request.htmx:
        return HttpResponseClientRedirect(follow_up.get_absolute_url())
    return redirect(follow_up)


@require_POST
@permission_required("cases.change_case", raise_exception=True)
def case_assign(request: HttpRequest, reference: str) -> HttpResponse:
    """Roles: agent, supervisor, admin. Reassign to a person and/or transfer to a team."""
    case = selectors.access_case_by_reference(user=request.user, reference=reference)
    form = AssignForm(request.POST)
    try:
        if not form.is_valid():
            raise services.CaseActionError(form.first_error())
        services.case_assign(case=case, by=request.user, **form.cleaned_data)
    except services.CaseActionError as error:
        return transition_refused(request, reference, "assign", form, error)
    if not request.htmx:
        return redirect(case)
    return header_answered(render_case_header(request, case), case)


@require_POST
@permission_required("cases.change_case", raise_exception=True)
def case_transition(request: HttpRequest, reference: str, name: str) -> HttpResponse:
    """Roles: agent, supervisor, admin (some transitions: supervisor and admin only)."""
    case = selectors.access_case_by_reference(user=request.user, reference=reference)
    form = TransitionForm(request.POST)
    try:
        if not form.is_valid():
            raise services.CaseActionError(form.first_error())
        services.case_transition(
            case=case,
            name=name,
            by=request.user,
            expected_state=form.cleaned_data["expected_state"],
            data=form.transition_input(),
        )
    except services.CaseActionError as error:
        return transition_refused(request, reference, name, form, error)
    if not request.htmx:
        return redirect(case)
    return header_answered(render_case_header(request, case), case)


def header_answered(response: HttpResponse, case: Case) -> HttpResponse:
    """The answer is the new header; the other panels reload on `case:updated`. The header's
    own reload listens to `case:changed` only, so a form the user opens meanwhile stays."""
    return trigger_client_event(response, "case:updated", {"reference": case.reference})


def transition_refused(
    request: HttpRequest,
    reference: str,
    name: str,
    form: TransitionForm | AssignForm,
    error: services.CaseActionError,
) -> HttpResponse:
    """Show the current case with the reason; what the user typed stays in the form."""
    if not request.htmx:
        messages.error(request, str(error))
        return redirect("cases:case-detail", reference)
    case = selectors.access_case_by_reference(user=request.user, reference=reference)
    return render_case_header(
        request, case, error=str(error), failed_action=name, typed=form.data, status=error.status
    )


def header_context(request: HttpRequest, case: Case, **extra: object) -> dict[str, object]:
    buttons = selectors.case_transition_buttons(case=case, user=request.user)
    failed = extra.get("failed_action")
    kept_text = ""
    if failed and failed not in {button.name for button in buttons}:
        # The action is gone (the case moved on): still show what the user typed.
        typed = extra.get("typed") or {}
        kept_text = typed.get("resolution") or typed.get("reason") or ""
    return {
        "case": case,
        "buttons": buttons,
        "kept_text": kept_text,
        "may_assign": services.may_assign(case, request.user),
        "reopen_note": selectors.reopen_expired_note(case=case),
        "may_follow_up": request.user.has_perm("cases.add_case")
        and case.state in (CaseState.RESOLVED, CaseState.CLOSED)
        and case.merged_into_id is None,
        **selectors.assign_choices(),
        **extra,
    }


def links_context(case: Case) -> dict[str, object]:
    return {"case": case, "links": selectors.case_links(case=case)}


def history_context(case: Case) -> dict[str, object]:
    return {"case": case, "events": selectors.case_events(case=case)}


def render_case_header(
    request: HttpRequest, case: Case, *, status: int = 200, **extra: object
) -> HttpResponse:
    context = header_context(request, case, **extra)
    return render(request, "cases/partials/case_header.html", context, status=status)


# --- guided processes -------------------------------------------------------------------


def render_guided_panel(
    request: HttpRequest,
    case: Case,
    *,
    run: GuidedRun | None = None,
    form=None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    run = run or guided.run_current(case=case)
    finished = run is None or run.status in FINISHED_RUN_STATUSES
    context = {
        "case": case,
        "view": guided.step_view(run, form) if run else None,
        "versions": guided.startable_versions() if finished else [],
        "suggested": guided.suggested_process_key(case) if finished else "",
        "error": error,
    }
    return render(request, "cases/partials/guided_panel.html", context, status=status)


def revision_of(request: HttpRequest) -> int | None:
    raw = request.POST.get("revision", "")
    return int(raw) if raw.isdigit() else None


def seconds_of(request: HttpRequest) -> int | None:
    raw = request.POST.get("seconds", "")
    return min(int(raw), 86_400) if raw.isdigit() else None


@require_GET
@permission_required("cases.view_guidedrun", raise_exception=True)
def case_guided(request: HttpRequest, reference: str) -> HttpResponse:
    """Roles: agent, supervisor, admin. The guided step panel of a case."""
    case = selectors.access_case_by_reference(user=request.user, reference=reference)
    return render_guided_panel(request, case)


@require_POST
@permission_required("cases.change_guidedrun", raise_exception=True)
def case_guided_start(request: HttpRequest, reference: str) -> HttpResponse:
    """Roles: agent, supervisor, admin. Start a published process on the case."""
    case = selectors.access_case_by_reference(user=request.user, reference=reference)
    version = guided.version_for_start(process_key=request.POST.get("process", "")[:60])
    if version is None:
        return render_guided_panel(request, case, error=_("Choose a process."), status=400)
    try:
        guided.run_start(case=case, version=version, by=request.user)
    except services.CaseActionError as error:
        return render_guided_panel(request, case, error=str(error), status=error.status)
    return guided_changed(render_guided_panel(request, case), case)


@require_POST
@permission_required("cases.change_guidedrun", raise_exception=True)
def case_guided_submit(request: HttpRequest, reference: str) -> HttpResponse:
    """Roles: agent, supervisor, admin. Answer the current step and move on."""
    case = selectors.access_case_by_reference(user=request.user, reference=reference)
    try:
        result = guided.run_step_submit(
            case=case,
            by=request.user,
            data=request.POST,
            revision=revision_of(request),
            seconds_spent=seconds_of(request),
        )
    except services.CaseActionError as error:
        return render_guided_panel(request, case, error=str(error), status=error.status)
    if result.form.errors:
        return render_guided_panel(request, case, run=result.run, form=result.form, status=400)
    return guided_changed(render_guided_panel(request, case, run=result.run), case)


@require_POST
@permission_required("cases.change_guidedrun", raise_exception=True)
def case_guided_back(request: HttpRequest, reference: str) -> HttpResponse:
    """Roles: agent, supervisor, admin. Go back one step to revise it."""
    case = selectors.access_case_by_reference(user=request.user, reference=reference)
    try:
        run = guided.run_step_back(case=case, by=request.user, revision=revision_of(request))
    except services.CaseActionError as error:
        return render_guided_panel(request, case, error=str(error), status=error.status)
    return render_guided_panel(request, case, run=run)


def guided_changed(response: HttpResponse, case: Case) -> HttpResponse:
    """The step may have fired a transition: the case header refreshes itself."""
    return trigger_client_event(response, "case:changed", {"reference": case.reference})


@require_GET
@permission_required("cases.decide_guidedrun", raise_exception=True)
def decisions(request: HttpRequest) -> HttpResponse:
    """Roles: supervisor, admin. Guided runs waiting for a decision, newest first."""
    return render(request, "cases/decisions.html", {"rows": guided.decision_rows()})


@require_POST
@permission_required("cases.decide_guidedrun", raise_exception=True)
def decision_make(request: HttpRequest, run_id: int) -> HttpResponse:
    """Roles: supervisor, admin. Approve or refuse an exception, with a note."""
    run = get_object_or_404(GuidedRun.objects.select_related("case"), pk=run_id)
    try:
        guided.run_decide(
            run=run,
            by=request.user,
            approve=request.POST.get("decision") == "approve",
            note=request.POST.get("note", ""),
            revision=revision_of(request),
        )
    except services.CaseActionError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Decision recorded for %(ref)s.") % {"ref": run.case.reference})
    return redirect("cases:decisions")


# --- replies and moving messages ---------------------------------------------------------


def reply_form_context(request: HttpRequest, case: Case, **extra: object) -> dict[str, object]:
    channels = replies.reply_channels(case)
    typed = extra.pop("typed", None) or {}
    return {
        "case": case,
        "channels": channels,
        "channel": typed.get("channel") or replies.reply_default_channel(case, channels),
        "templates": replies.reply_templates(),
        "subject": typed.get("subject", ""),
        "body": typed.get("body", ""),
        "next_step": typed.get("next_step", ""),
        "template_id": typed.get("template", ""),
        "token": typed.get("token") or replies.reply_token(),
        "body_max": replies.BODY_MAX,
        **extra,
    }


@require_GET
@permission_required("cases.view_case", raise_exception=True)
def case_reply_form(request: HttpRequest, reference: str) -> HttpResponse:
    """Roles: agent, supervisor, admin. The reply form; `?template=` fills it from a template."""
    case = selectors.access_case_by_reference(user=request.user, reference=reference)
    typed = {key: request.GET.get(key, "")[:300] for key in ("channel", "next_step", "template")}
    chosen = selectors.reply_template_get(pk=typed["template"])
    if chosen is not None:
        typed["subject"], typed["body"] = replies.reply_template_fill(
            template=chosen, case=case, next_step=typed["next_step"]
        )
    context = reply_form_context(request, case, typed=typed)
    return render(request, "cases/partials/case_reply_form.html", context)


@require_POST
@permission_required("cases.change_case", raise_exception=True)
def case_reply_send(request: HttpRequest, reference: str) -> HttpResponse:
    """Roles: agent, supervisor, admin. Send the reply through the outbox."""
    case = selectors.access_case_by_reference(user=request.user, reference=reference)
    fields = ("channel", "subject", "body", "token", "expected_state", "next_step", "template")
    typed = {key: request.POST.get(key, "")[:20_000] for key in fields}
    try:
        replies.reply_send(
            case=case,
            by=request.user,
            channel=typed["channel"][:10],
            subject=typed["subject"],
            body=typed["body"],
            token=typed["token"][:40],
            expected_state=typed["expected_state"][:20],
        )
    except services.CaseActionError as error:
        if not request.htmx:
            messages.error(request, str(error))
            return redirect(case)
        case = selectors.access_case_by_reference(user=request.user, reference=reference)
        context = reply_form_context(request, case, typed=typed, error=str(error))
        return render(request, "cases/partials/case_reply_form.html", context, status=error.status)
    if not request.htmx:
        messages.success(request, _("The reply is queued for sending."))
        return redirect(case)
    context = reply_form_context(request, case, sent=True)
    response = render(request, "cases/partials/case_reply_form.html", context)
    return changed(response, case)


def changed(response: HttpResponse, case: Case) -> HttpResponse:
    """The case's panels and the customer's timeline (a new or re-filed contact) reload."""
    trigger_client_event(response, "case:changed", {"reference": case.reference})
    return trigger_client_event(response, "customer:changed", {"customer": case.customer_id})


@require_GET
@permission_required("cases.view_case", raise_exception=True)
def case_replies(request: HttpRequest, reference: str) -> HttpResponse:
    """Roles: agent, supervisor, admin. Messages to the customer on this case, with status."""
    case = selectors.access_case_by_reference(user=request.user, reference=reference)
    rows = replies.case_replies(case=case)
    context = {"case": case, "replies": rows, "pending": any(r.status == "queued" for r in rows)}
    return render(request, "cases/partials/case_replies.html", context)


def messages_context(case: Case, **extra: object) -> dict[str, object]:
    return {"case": case, "inbound_messages": selectors.case_inbound_messages(case=case), **extra}


def render_messages(
    request: HttpRequest, case: Case, *, status: int = 200, **extra: object
) -> HttpResponse:
    context = messages_context(case, **extra)
    response = render(request, "cases/partials/case_messages.html", context, status=status)
    return changed(response, case) if status == 200 else response


@require_GET
@permission_required("cases.view_case", raise_exception=True)
def case_messages(request: HttpRequest, reference: str) -> HttpResponse:
    """Roles: agent, supervisor, admin. The inbound messages of the case, with why each is here."""
    case = selectors.access_case_by_reference(user=request.user, reference=reference)
    return render(request, "cases/partials/case_messages.html", messages_context(case))


@require_GET
@permission_required("cases.view_case", raise_exception=True)
def attachment_download(request: HttpRequest, reference: str, pk: int) -> FileResponse:
    """Roles: agent, supervisor, admin. A file that came with a message on this case, always
    as a download (never shown inline: customer files are untrusted)."""
    case = selectors.access_case_by_reference(user=request.user, reference=reference)
    attachment = selectors.attachment_get(case=case, pk=pk)
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404 from None
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=attachment.filename,
        content_type="application/octet-stream",
    )
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


@require_POST
@permission_required("cases.change_case", raise_exception=True)
def inbound_move(request: HttpRequest, reference: str, pk: int) -> HttpResponse:
    """Roles: agent, supervisor, admin. Move a message to another case of the customer, or
    (`new`) out into a new case."""
    case = selectors.access_case_by_reference(user=request.user, reference=reference)
    message = selectors.inbound_message_get(case=case, pk=pk)
    target = request.POST.get("reference", "")[:40]
    try:
        if not request.POST.get("new") and not target.strip():
            raise services.CaseActionError(_("Give the reference of the case to move it to."))
        move = moves.message_move(
            message=message,
            case=case,
            by=request.user,
            reference="" if request.POST.get("new") else target,
        )
    except services.CaseActionError as error:
        if not request.htmx:
            messages.error(request, str(error))
            return redirect(case)
        extra = {"move_error": str(error), "move_error_pk": pk, "typed_reference": target}
        return render_messages(request, case, status=error.status, **extra)
    if not request.htmx:
        messages.success(
            request, _("The message was moved to %(ref)s.") % {"ref": move.to_case.reference}
        )
        return redirect(case)
    return render_messages(request, case, moved=move)


@require_POST
@permission_required("cases.change_case", raise_exception=True)
def inbound_move_undo(request: HttpRequest, reference: str, pk: int) -> HttpResponse:
    """Roles: agent, supervisor, admin. Undo a move (from either of its two cases)."""
    case = selectors.access_case_by_reference(user=request.user, reference=reference)
    move = selectors.message_move_get(case=case, pk=pk)
    try:
        moves.message_move_undo(move=move, by=request.user)
    except services.CaseActionError as error:
        if not request.htmx:
            messages.error(request, str(error))
            return redirect(case)
        return render_messages(request, case, status=error.status, undo_error=str(error))
    if not request.htmx:
        messages.success(request, _("The move was undone."))
        return redirect(case)
    return render_messages(request, case)
