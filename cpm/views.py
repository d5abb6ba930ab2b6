from __future__ import annotations

from django.contrib.auth.decorators import login_not_required, permission_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from cases.selectors import case_search
from customers.selectors import customer_identify, customer_search

QUERY_MAX_LENGTH = 200


@require_GET
@permission_required("customers.view_customer", raise_exception=True)
def search(request: HttpRequest) -> HttpResponse:
    """Roles: agent, supervisor, admin. An exact identifier jumps: a case reference to the
    case; a customer or contract number, e-mail address, phone number or IBAN to the
    customer. Anything else searches names."""
    query = request.GET.get("q", "")[:QUERY_MAX_LENGTH].replace("\x00", "").strip()
    case = case_search(query=query)
    if case is not None:
        return redirect(case)
    customer = customer_identify(query=query)
    if customer is not None:
        return redirect(customer)
    customers = customer_search(query=query)
    return render(request, "cpm/search.html", {"query": query, "customers": customers})


@require_GET
@login_not_required
def health(request: HttpRequest) -> JsonResponse:
    """Roles: anyone (load balancers). Says whether the database answers; no data."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
