from __future__ import annotations

from django.contrib import admin

from customers.models import Customer, Interaction


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["number", "name", "language", "created_at"]
    search_fields = ["number", "name"]


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    list_display = ["customer", "channel", "direction", "occurred_at", "case_reference"]
    list_filter = ["channel", "direction"]
    raw_id_fields = ["customer", "agent"]
    readonly_fields = ["customer", "channel", "direction", "occurred_at", "body"]
