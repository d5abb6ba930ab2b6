from __future__ import annotations

from django.urls import path

from customers import views

app_name = "customers"

urlpatterns = [
    path("<int:pk>/", views.customer_detail, name="customer-detail"),
    path("<int:pk>/timeline/", views.customer_timeline, name="customer-timeline"),
]
