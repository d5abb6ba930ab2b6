"""The offers panel (cockpit and case screen) and the supervisors' offers report."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from cases import offers, selectors
from cases.models import Case
from customers.models import Customer
from customers.selectors import access_customer_by_id
from guidance.models import DeclineReason


def case_of(request: HttpRequest, customer: Customer, reference: str) -> Case | None:
    """The case the panel sits on, if any; it must be this customer's."""
    if not reference:
        return None
    case = selectors.access_case_by_reference(user=request.user, reference=reference[:40])
    if case.customer_id != customer.pk:
        raise Http404
    return case


def render_offers(
    request: HttpRequest, customer: Customer, case: Case | None, *, status: int = 200, **extra
) -> HttpResponse:
    context = {
        "panel": offers.offers_panel(customer=customer, case=case),
        "customer": customer,
        "case": case,
        "decline_reasons": DeclineReason.choices,
        **extra,
    }
    return render(request, "cases/partials/offers_panel.html", context, status=status)


@require_GET
@permission_required("cases.view_offeroutcome", raise_exception=True)
def customer_offers(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Roles: agent, supervisor, admin. The next best actions for the customer (on a case)."""
    customer = access_customer_by_id(user=request.user, pk=customer_id)
    case = case_of(request, customer, request.GET.get("case", ""))
    return render_offers(request, customer, case)


@require_POST
@permission_required("cases.add_offeroutcome", raise_exception=True)
def offer_outcome_save(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Roles: agent, supervisor, admin. Record the customer's answer to an offer."""
    customer = access_customer_by_id(user=request.user, pk=customer_id)
    case = case_of(request, customer, request.POST.get("case", ""))
    raw = request.POST.get("offer", "")
    offer = offers.access_offer_by_id(pk=int(raw)) if raw.isdigit() else None
    back = case.get_absolute_url() if case else customer.get_absolute_url()
    try:
        if offer is None:
            raise offers.OfferRefused(_("Choose an offer."))
        done = offers.offer_outcome_record(
            customer=customer,
            offer=offer,
            result=request.POST.get("result", ""),
            decline_reason=request.POST.get("reason", ""),
            case=case,
            by=request.user,
        )
    except offers.OfferRefused as error:
        if not request.htmx:
            messages.error(request, str(error))
            return redirect(back)
        return render_offers(request, customer, case, error=str(error), status=400)
    if done.created_case:
        url = done.case.get_absolute_url()
        return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    if not request.htmx:
        if done.message:
            messages.info(request, done.message)
        return redirect(back)
    response = render_offers(request, customer, case, notice=done.message)
    if done.case is not None:
        details = {"reference": done.case.reference}
        response = trigger_client_event(response, "case:changed", details)
        return trigger_client_event(response, "case:guided-started", details)
    return response


@require_GET
@permission_required("cases.view_offer_report", raise_exception=True)
def offer_report(request: HttpRequest) -> HttpResponse:
    """Roles: supervisor, admin. Per offer: eligible, presented, accepted, uplift vs control."""
    return render(request, "cases/offer_report.html", {"rows": offers.offer_report()})
