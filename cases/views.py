from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import trigger_client_event

from cases import selectors, services
from cases.forms import TransitionForm
from cases.models import Case
from customers.selectors import access_customer_by_id


@require_GET
@permission_required("cases.view_case", raise_exception=True)
def agent_home(request: HttpRequest) -> HttpResponse:
    """Roles: agent, supervisor, admin. My cases and the open cases."""
    context = {
        "my_cases": selectors.my_cases(user=request.user),
        "open_cases": selectors.open_cases(),
    }
    return render(request, "cases/home.html", context)


@require_GET
@vary_on_headers("HX-Request")
@permission_required("cases.view_case", raise_exception=True)
def case_detail(request: HttpRequest, reference: str) -> HttpResponse:
    """Roles: agent, supervisor, admin. The case beside the customer's timeline."""
    case = selectors.access_case_by_reference(user=request.user, reference=reference)
    if request.htmx:
        return render_case_header(request, case)
    context = {**header_context(request, case), "events": selectors.case_events(case=case)}
    return render(request, "cases/case_detail.html", context)


@require_GET
@permission_required("cases.view_case", raise_exception=True)
def customer_cases(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Roles: agent, supervisor, admin. The customer's open cases, a panel of the cockpit."""
    customer = access_customer_by_id(user=request.user, pk=customer_id)
    cases = selectors.customer_active_cases(customer_id=customer.pk)
    context = {"customer": customer, "cases": cases}
    return render(request, "cases/partials/customer_cases.html", context)


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
    response = render_case_header(request, case)
    return trigger_client_event(response, "case:changed", {"reference": case.reference})


def transition_refused(
    request: HttpRequest,
    reference: str,
    name: str,
    form: TransitionForm,
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
    return {"case": case, "buttons": buttons, "kept_text": kept_text, **extra}


def render_case_header(
    request: HttpRequest, case: Case, *, status: int = 200, **extra: object
) -> HttpResponse:
    context = header_context(request, case, **extra)
    return render(request, "cases/partials/case_header.html", context, status=status)
