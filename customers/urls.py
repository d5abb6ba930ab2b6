from __future__ import annotations

from django.urls import path

from customers import views

app_name = "customers"

urlpatterns = [
    path("<int:pk>/", views.customer_detail, name="customer-detail"),
    path("<int:pk>/header/", views.customer_header, name="customer-header"),
    path("<int:pk>/header/save/", views.customer_save, name="customer-save"),
    path("<int:pk>/timeline/", views.customer_timeline, name="customer-timeline"),
    path("<int:pk>/contacts/", views.contact_points, name="contact-points"),
    path("<int:pk>/contacts/save/", views.contact_point_save, name="contact-point-save"),
    path(
        "<int:pk>/contacts/<int:contact_pk>/remove/",
        views.contact_point_remove,
        name="contact-point-remove",
    ),
    path("<int:pk>/address/", views.address, name="address"),
    path("<int:pk>/address/save/", views.address_save, name="address-save"),
    path("<int:pk>/holdings/", views.holdings, name="holdings"),
    path("<int:pk>/billing/", views.billing, name="billing"),
    path("<int:pk>/export/", views.customer_export, name="customer-export"),
    path("<int:pk>/export.json", views.customer_export_json, name="customer-export-json"),
    path("<int:pk>/erase/", views.customer_erase, name="customer-erase"),
    path("<int:pk>/duplicates/", views.customer_duplicates, name="customer-duplicates"),
    path("<int:pk>/merge/", views.customer_merge, name="customer-merge"),
    path("merges/<int:merge_pk>/undo/", views.customer_merge_undo, name="merge-undo"),
    path("<int:pk>/holdings/payment/", views.holding_payment_save, name="holding-payment-save"),
]
