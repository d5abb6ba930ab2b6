from __future__ import annotations

from django.contrib.auth.decorators import login_not_required, permission_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from cases.selectors import case_search
from customers.selectors import customer_search

QUERY_MAX_LENGTH = 200


@require_GET
@permission_required("customers.view_customer", raise_exception=True)
def search(request: HttpRequest) -> HttpResponse:
    """Roles: agent, supervisor, admin. An exact case reference or customer number jumps."""
    query = request.GET.get("q", "")[:QUERY_MAX_LENGTH].strip()
    case = case_search(query=query)
    if case is not None:
        return redirect(case)
    customers = customer_search(query=query)
    if len(customers) == 1 and customers[0].number.lower() == query.lower():
        return redirect(customers[0])
    return render(request, "cpm/search.html", {"query": query, "customers": customers})


@require_GET
@login_not_required
def health(request: HttpRequest) -> JsonResponse:
    """Roles: anyone (load balancers). Says whether the database answers; no data."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
