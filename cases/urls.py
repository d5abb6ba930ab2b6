from __future__ import annotations

from django.urls import path

from cases import views

app_name = "cases"

urlpatterns = [
    path("customer/<int:customer_id>/", views.customer_cases, name="customer-cases"),
    path("<str:reference>/", views.case_detail, name="case-detail"),
    path(
        "<str:reference>/transitions/<slug:name>/",
        views.case_transition,
        name="case-transition",
    ),
]
