"""The customer cockpit: the page, its timeline, and the master-data panels edited in place.

Each panel is one fragment template re-rendered by its own endpoint; a successful change
answers with the panel and the `customer:changed` event, on which the timeline reloads.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import trigger_client_event

from customers import merging, privacy, selectors, services
from customers.forms import AddressForm, ContactPointForm, CustomerForm, PaymentForm
from customers.models import (
    ChangeEntity,
    Channel,
    ContactKind,
    ContactPoint,
    Customer,
    CustomerChange,
    CustomerMerge,
)
from customers.selectors import TimelineKind

CONTACTS = "customers/partials/contact_points_panel.html"
ADDRESS = "customers/partials/address_panel.html"
HOLDINGS = "customers/partials/holdings_panel.html"
HEADER = "customers/partials/customer_header.html"
BILLING = "customers/partials/billing_panel.html"
HANDLE_KINDS = [ContactKind.SOCIAL, ContactKind.MESSENGER]
INVALID = 400  # like the case screen: invalid input is a 400 with the form and its errors
CONFLICT = 409  # someone else changed the same thing first


def timeline_filters(request: HttpRequest) -> dict[str, object]:
    channel = request.GET.get("channel", "")
    kind = request.GET.get("kind", "")
    return {
        "channel": channel if channel in Channel.values else "",
        "kind": kind if kind in dict(TimelineKind.CHOICES) else "",
        "channels": Channel.choices,
        "kinds": TimelineKind.CHOICES,
    }


@require_GET
@permission_required("customers.view_customer", raise_exception=True)
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Roles: agent, supervisor, admin. The cockpit: master data, cases and the timeline."""
    customer = selectors.access_customer_by_id(user=request.user, pk=pk)
    return render_cockpit(request, customer)


def render_cockpit(
    request: HttpRequest, customer: Customer, *, status: int = 200, **extra: object
) -> HttpResponse:
    """The whole cockpit page; `extra` reaches its panels (a header form posted without JS)."""
    filters = timeline_filters(request)
    page = selectors.timeline_page(
        customer_id=customer.pk, channel=str(filters["channel"]), kind=str(filters["kind"])
    )
    cockpit = selectors.customer_cockpit(customer=customer)
    context = {"customer": customer, "cockpit": cockpit, "page": page, **filters, **extra}
    return render(request, "customers/customer_detail.html", context, status=status)


@require_GET
@permission_required("customers.view_customer", raise_exception=True)
def customer_timeline(request: HttpRequest, pk: int) -> HttpResponse:
    """Roles: agent, supervisor, admin. One page of the timeline, as a fragment."""
    customer = selectors.access_customer_by_id(user=request.user, pk=pk)
    filters = timeline_filters(request)
    page = selectors.timeline_page(
        customer_id=customer.pk,
        cursor=request.GET.get("cursor", ""),
        channel=str(filters["channel"]),
        kind=str(filters["kind"]),
    )
    template = (
        "customers/partials/timeline_entries.html"
        if request.GET.get("cursor")
        else "customers/partials/timeline.html"
    )
    return render(request, template, {"customer": customer, "page": page, **filters})


def render_panel(
    request: HttpRequest,
    template: str,
    customer: Customer,
    *,
    status: int = 200,
    changed: bool = False,
    **extra: object,
) -> HttpResponse:
    """A master-data panel; after a change it tells the page (the timeline reloads)."""
    if changed and not request.htmx:
        return redirect(customer)
    context = {"customer": customer, "cockpit": selectors.customer_cockpit(customer=customer)}
    response = render(request, template, {**context, **extra}, status=status)
    if changed:
        trigger_client_event(response, "customer:changed", {"customer": customer.pk})
    return response


def render_header(
    request: HttpRequest, customer: Customer, *, status: int = 200, **extra: object
) -> HttpResponse:
    """The header as a fragment for htmx; without JS the whole cockpit around it."""
    if not request.htmx:
        return render_cockpit(request, customer, status=status, **extra)
    return render_panel(request, HEADER, customer, status=status, **extra)


@require_GET
@vary_on_headers("HX-Request")
@permission_required("customers.view_customer", raise_exception=True)
def customer_header(request: HttpRequest, pk: int) -> HttpResponse:
    """Roles: agent, supervisor, admin. The customer's own fields; `?edit=1` shows the form
    to change them (segment and status only for supervisors and admins)."""
    customer = selectors.access_customer_by_id(user=request.user, pk=pk)
    form = None
    if request.GET.get("edit") and request.user.has_perm("customers.change_customer"):
        form = CustomerForm(customer=customer, user=request.user)
    return render_header(request, customer, customer_form=form)


@require_POST
@vary_on_headers("HX-Request")
@permission_required("customers.change_customer", raise_exception=True)
def customer_save(request: HttpRequest, pk: int) -> HttpResponse:
    """Roles: agent, supervisor, admin. Save the customer's own fields (segment and status:
    supervisors and admins); 400 with the reasons, 409 with the current values."""
    customer = selectors.access_customer_by_id(user=request.user, pk=pk)
    form = CustomerForm(request.POST, customer=customer, user=request.user)
    try:
        if not form.is_valid():
            raise ValidationError({})
        customer = services.customer_edit(
            customer=customer,
            by=request.user,
            changes=form.changes(),
            seen=form.cleaned_data["seen"],
        )
    except services.CustomerConflict as conflict:
        current = conflict.customer
        conflicts = conflict_rows(current, conflict.fields)
        form = form.after_conflict(current)
        return render_header(
            request, current, status=CONFLICT, customer_form=form, conflicts=conflicts
        )
    except ValidationError as error:
        form.add_service_errors(error)
        return render_header(request, customer, status=INVALID, customer_form=form)
    return render_panel(request, HEADER, customer, changed=True)


def conflict_rows(customer: Customer, fields: list[str]) -> list[CustomerChange]:
    """What someone else changed meanwhile: their latest change of each field, or the
    current value where the change log has none (a change made outside CPM)."""
    found = {c.field: c for c in selectors.customer_field_changes(customer=customer, fields=fields)}
    return [
        found.get(name)
        or CustomerChange(
            customer=customer,
            entity=ChangeEntity.CUSTOMER,
            entity_id=customer.pk,
            field=name,
            new=services.text(getattr(customer, name)),
        )
        for name in fields
    ]


def editing_id(request: HttpRequest) -> int | None:
    value = request.GET.get("edit", "")
    return int(value) if value.isdigit() else None


def contact_form(
    data: QueryDict | None = None, *, contact: ContactPoint | None = None
) -> ContactPointForm:
    """The contact point form; when changing one, its kind is fixed."""
    if contact is None:
        return ContactPointForm(data)
    initial = {name: getattr(contact, name) for name in ContactPointForm.base_fields}
    form = ContactPointForm(data, initial=initial)
    form.fields["kind"].disabled = True
    if contact.kind not in HANDLE_KINDS:
        del form.fields["network"]
    return form


@require_GET
@permission_required("customers.view_customer", raise_exception=True)
def contact_points(request: HttpRequest, pk: int) -> HttpResponse:
    """Roles: agent, supervisor, admin. The contact points; `?edit=<id>|new` shows a form."""
    customer = selectors.access_customer_by_id(user=request.user, pk=pk)
    form, editing = None, editing_id(request)
    may_edit = request.user.has_perm("customers.change_customer")
    if editing is not None and may_edit:
        contact = selectors.contact_point_get(customer=customer, pk=editing)
        form = contact_form(contact=contact)
    elif request.GET.get("edit") == "new" and may_edit:
        form = contact_form()
    return render_panel(request, CONTACTS, customer, form=form, editing=editing)


@require_POST
@permission_required("customers.change_customer", raise_exception=True)
def contact_point_save(request: HttpRequest, pk: int) -> HttpResponse:
    """Roles: agent, supervisor, admin. Add a contact point, or change the one in `?edit=`."""
    customer = selectors.access_customer_by_id(user=request.user, pk=pk)
    editing = editing_id(request)
    contact = selectors.contact_point_get(customer=customer, pk=editing) if editing else None
    form = contact_form(request.POST, contact=contact)
    try:
        if not form.is_valid():
            raise ValidationError({})
        data = {k: form.cleaned_data.get(k) for k in ("value", "primary", "verified")}
        network = form.cleaned_data.get("network")
        if contact is None:
            services.contact_point_add(
                customer=customer,
                kind=form.cleaned_data["kind"],
                network=network or "",
                by=request.user,
                **data,
            )
        else:
            services.contact_point_change(
                contact_point=contact, network=network, by=request.user, **data
            )
    except ValidationError as error:
        form.add_service_errors(error)
        return render_panel(request, CONTACTS, customer, status=INVALID, form=form, editing=editing)
    return render_panel(request, CONTACTS, customer, changed=True)


@require_POST
@permission_required("customers.change_customer", raise_exception=True)
def contact_point_remove(request: HttpRequest, pk: int, contact_pk: int) -> HttpResponse:
    """Roles: agent, supervisor, admin. Remove a contact point (kept for the history)."""
    customer = selectors.access_customer_by_id(user=request.user, pk=pk)
    contact = selectors.contact_point_get(customer=customer, pk=contact_pk)
    services.contact_point_remove(contact_point=contact, by=request.user)
    return render_panel(request, CONTACTS, customer, changed=True)


@require_GET
@permission_required("customers.view_customer", raise_exception=True)
def address(request: HttpRequest, pk: int) -> HttpResponse:
    """Roles: agent, supervisor, admin. The current address; `?edit=1` shows a form."""
    customer = selectors.access_customer_by_id(user=request.user, pk=pk)
    form = None
    if request.GET.get("edit") and request.user.has_perm("customers.change_customer"):
        current = selectors.customer_cockpit(customer=customer).address
        form = AddressForm(
            initial=current and {f: getattr(current, f) for f in AddressForm.base_fields}
        )
    return render_panel(request, ADDRESS, customer, form=form)


@require_POST
@permission_required("customers.change_customer", raise_exception=True)
def address_save(request: HttpRequest, pk: int) -> HttpResponse:
    """Roles: agent, supervisor, admin. Make the posted address the current one."""
    customer = selectors.access_customer_by_id(user=request.user, pk=pk)
    form = AddressForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError({})
        services.address_change(customer=customer, by=request.user, **form.cleaned_data)
    except ValidationError as error:
        form.add_service_errors(error)
        return render_panel(request, ADDRESS, customer, status=INVALID, form=form)
    return render_panel(request, ADDRESS, customer, changed=True)


@require_GET
@permission_required("customers.view_customer", raise_exception=True)
def holdings(request: HttpRequest, pk: int) -> HttpResponse:
    """Roles: agent, supervisor, admin. Products and contracts; `?edit=<id>` edits payment."""
    customer = selectors.access_customer_by_id(user=request.user, pk=pk)
    form, editing = None, editing_id(request)
    if editing is not None and request.user.has_perm("customers.change_customer"):
        holding = selectors.holding_get(customer=customer, pk=editing)
        initial = {"holding": holding.pk, "payment_method": holding.payment_method}
        form = PaymentForm(initial={**initial, "iban": holding.iban})
    return render_panel(request, HOLDINGS, customer, form=form, editing=editing)


@require_POST
@permission_required("customers.change_customer", raise_exception=True)
def holding_payment_save(request: HttpRequest, pk: int) -> HttpResponse:
    """Roles: agent, supervisor, admin. Change how one holding is paid."""
    customer = selectors.access_customer_by_id(user=request.user, pk=pk)
    form = PaymentForm(request.POST)
    if not form.is_valid():
        return render_panel(request, HOLDINGS, customer, status=INVALID, form=form)
    holding = selectors.holding_get(customer=customer, pk=form.cleaned_data["holding"])
    try:
        services.holding_payment_change(
            holding=holding,
            payment_method=form.cleaned_data["payment_method"],
            iban=form.cleaned_data["iban"],
            by=request.user,
        )
    except ValidationError as error:
        form.add_service_errors(error)
        return render_panel(
            request, HOLDINGS, customer, status=INVALID, form=form, editing=holding.pk
        )
    return render_panel(request, HOLDINGS, customer, changed=True)


@require_GET
@permission_required("customers.view_customer", raise_exception=True)
def billing(request: HttpRequest, pk: int) -> HttpResponse:
    """Roles: agent, supervisor, admin. Billing, orders and contracts from the back office,
    loaded after the page; "not reachable" when the back office is slow or down."""
    customer = selectors.access_customer_by_id(user=request.user, pk=pk)
    back_office = selectors.customer_back_office(customer=customer)
    return render(request, BILLING, {"customer": customer, "back_office": back_office})


@require_GET
@permission_required("customers.export_customer", raise_exception=True)
def customer_export(request: HttpRequest, pk: int) -> HttpResponse:
    """Roles: supervisor, admin. Everything stored about the customer, readable (audited);
    with the erasure form."""
    customer = selectors.access_customer_by_id(user=request.user, pk=pk)
    data = privacy.customer_export(customer=customer, by=request.user)
    context = {"customer": customer, "sections": privacy.export_sections(data)}
    return render(request, "customers/customer_export.html", context)


@require_GET
@permission_required("customers.export_customer", raise_exception=True)
def customer_export_json(request: HttpRequest, pk: int) -> HttpResponse:
    """Roles: supervisor, admin. Everything stored about the customer as a JSON download."""
    customer = selectors.access_customer_by_id(user=request.user, pk=pk)
    data = privacy.customer_export(customer=customer, by=request.user)
    response = HttpResponse(
        json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=1),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{customer.number}.json"'
    return response


@require_POST
@permission_required("customers.erase_customer", raise_exception=True)
def customer_erase(request: HttpRequest, pk: int) -> HttpResponse:
    """Roles: supervisor, admin. Erase the customer's personal data (confirm: the number)."""
    customer = selectors.access_customer_by_id(user=request.user, pk=pk)
    try:
        privacy.customer_erase(
            customer=customer, by=request.user, confirm=request.POST.get("confirm", "")
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("customers:customer-export", pk=customer.pk)
    messages.success(request, _("The customer's personal data has been erased."))
    return redirect(customer)


@require_GET
@permission_required("customers.merge_customer", raise_exception=True)
def customer_duplicates(request: HttpRequest, pk: int) -> HttpResponse:
    """Roles: supervisor, admin. Likely duplicates to merge into this customer; past merges."""
    customer = selectors.access_customer_by_id(user=request.user, pk=pk)
    context = {
        "customer": customer,
        "duplicates": merging.customer_duplicates(customer=customer),
        "merges": merging.customer_merges(customer=customer),
    }
    return render(request, "customers/customer_duplicates.html", context)


@require_POST
@permission_required("customers.merge_customer", raise_exception=True)
def customer_merge(request: HttpRequest, pk: int) -> HttpResponse:
    """Roles: supervisor, admin. Merge the posted `source` customer into this one."""
    target = selectors.access_customer_by_id(user=request.user, pk=pk)
    source_pk = request.POST.get("source", "")
    source = selectors.access_customer_by_id(
        user=request.user, pk=int(source_pk) if source_pk.isdigit() else 0
    )
    try:
        merging.customer_merge(source=source, target=target, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("customers:customer-duplicates", pk=target.pk)
    messages.success(
        request, _("%(number)s has been merged into this customer.") % {"number": source.number}
    )
    return redirect(target)


@require_POST
@permission_required("customers.merge_customer", raise_exception=True)
def customer_merge_undo(request: HttpRequest, merge_pk: int) -> HttpResponse:
    """Roles: supervisor, admin. Undo a merge: everything that moved goes back."""
    try:
        merge = CustomerMerge.objects.select_related("source").get(pk=merge_pk)
    except CustomerMerge.DoesNotExist:
        raise Http404 from None
    try:
        merging.customer_merge_undo(merge=merge, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("customers:customer-duplicates", pk=merge.target_id)
    messages.success(request, _("The merge has been undone."))
    return redirect(merge.source)
