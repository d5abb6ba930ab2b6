from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from customers import selectors
from customers.models import Channel


@require_GET
@permission_required("customers.view_customer", raise_exception=True)
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Roles: agent, supervisor, admin. The customer with their timeline."""
    customer = selectors.access_customer_by_id(user=request.user, pk=pk)
    page = selectors.timeline_page(customer_id=customer.pk)
    context = {"customer": customer, "page": page, "channels": Channel.choices, "channel": ""}
    return render(request, "customers/customer_detail.html", context)


@require_GET
@permission_required("customers.view_customer", raise_exception=True)
def customer_timeline(request: HttpRequest, pk: int) -> HttpResponse:
    """Roles: agent, supervisor, admin. One page of the timeline, as a fragment."""
    customer = selectors.access_customer_by_id(user=request.user, pk=pk)
    channel = request.GET.get("channel", "")
    if channel not in Channel.values:
        channel = ""
    page = selectors.timeline_page(
        customer_id=customer.pk, cursor=request.GET.get("cursor", ""), channel=channel
    )
    template = (
        "customers/partials/timeline_entries.html"
        if request.GET.get("cursor")
        else "customers/partials/timeline.html"
    )
    context = {"customer": customer, "page": page, "channels": Channel.choices, "channel": channel}
    return render(request, template, context)
