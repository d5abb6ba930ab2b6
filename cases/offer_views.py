"""The offers panel (cockpit and case screen), the supervisors' offers report and the
admins' offer catalog (guidance owns the offers; the counts come from the outcomes here)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from cases import offers, selectors
from cases.models import Case
from customers.models import Customer
from customers.selectors import access_customer_by_id
from guidance import services
from guidance.forms import OfferForm
from guidance.models import DeclineReason, Offer
from guidance.offers import offer_rule_check as offer_rule_check_message


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
    # The answer is on the customer's timeline now: it reloads (customers' timeline.html).
    response = trigger_client_event(response, "customer:timeline", {"customer": customer.pk})
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


# --- the catalog: admins edit offers in the browser -------------------------------------

CATALOG_PERMISSION = "guidance.change_offer"


@require_GET
@permission_required(CATALOG_PERMISSION, raise_exception=True)
def offer_catalog(request: HttpRequest) -> HttpResponse:
    """Roles: admin. Every offer with kind, validity, weight, control share and counts."""
    return render(request, "cases/offer_catalog.html", {"rows": offers.offer_catalog()})


@require_http_methods(["GET", "POST"])
@permission_required(CATALOG_PERMISSION, raise_exception=True)
def offer_create(request: HttpRequest) -> HttpResponse:
    """Roles: admin. A new offer; a rule that does not check is named and nothing is saved."""
    return offer_form_page(request, Offer())


@require_http_methods(["GET", "POST"])
@permission_required(CATALOG_PERMISSION, raise_exception=True)
def offer_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Roles: admin. Change an offer; a rule that does not check is named, nothing saved."""
    return offer_form_page(request, get_object_or_404(Offer, pk=pk))


def offer_form_page(request: HttpRequest, offer: Offer) -> HttpResponse:
    form = OfferForm(request.POST or None, instance=offer)
    if request.method == "POST":
        if form.is_valid():
            try:
                saved = services.offer_save(offer=form.instance, by=request.user)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, _("Offer “%(key)s” saved.") % {"key": saved.key})
                return redirect("cases:offer-catalog")
        messages.error(request, not_saved(form))
    status = 400 if request.method == "POST" else 200  # invalid input: 400, as elsewhere
    return render(request, "cases/offer_form.html", {"form": form, "offer": offer}, status=status)


def not_saved(form: OfferForm) -> str:
    """One line naming every problem, e.g. the rule's, for the message above the form."""
    problems = [
        f"{form.fields[name].label if name in form.fields else _('Offer')}: {' '.join(errors)}"
        for name, errors in form.errors.items()
    ]
    return _("Not saved. %(problems)s") % {"problems": " ".join(problems)}


@require_POST
@permission_required(CATALOG_PERMISSION, raise_exception=True)
def offer_rule_check(request: HttpRequest) -> HttpResponse:
    """Roles: admin. Check the eligibility rule as it is typed: "ok" or what is wrong."""
    text = request.POST.get("rule", "").strip()
    message = offer_rule_check_message(text) if text else ""
    context = {"check_id": "id_rule-check", "text": text, "message": message}
    return render(request, "guidance/partials/rule_check.html", context)


@require_POST
@permission_required(CATALOG_PERMISSION, raise_exception=True)
def offer_activate(request: HttpRequest, pk: int) -> HttpResponse:
    """Roles: admin. Retire an offer (it leaves every panel; its outcomes stay) or activate it."""
    offer = get_object_or_404(Offer, pk=pk)
    active = request.POST.get("active") == "1"
    try:
        offer = services.offer_activate(offer=offer, active=active, by=request.user)
    except ValidationError as error:
        messages.error(
            request, _("Not activated. %(problems)s") % {"problems": " ".join(error.messages)}
        )
    else:
        done = _("Offer “%(key)s” is active.") if active else _("Offer “%(key)s” is retired.")
        messages.success(request, done % {"key": offer.key})
    return redirect("cases:offer-catalog")
