from __future__ import annotations

from django.contrib import admin

from customers.models import (
    Address,
    AuditEvent,
    ContactPoint,
    Customer,
    CustomerChange,
    CustomerMerge,
    Holding,
    Interaction,
)


class ReadOnlyInline(admin.TabularInline):
    """Master data changes through the cockpit's services, which record every change;
    the admin shows it but does not write it."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ContactPointInline(ReadOnlyInline):
    model = ContactPoint
    fields = ["kind", "network", "value", "normalised", "verified", "primary", "active"]


class AddressInline(ReadOnlyInline):
    model = Address
    fields = ["street", "postal_code", "city", "country", "valid_from", "valid_until"]


class HoldingInline(ReadOnlyInline):
    model = Holding
    fields = ["product", "contract_number", "status", "monthly_fee", "payment_method", "iban"]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["number", "name", "kind", "segment", "status", "language", "created_at"]
    list_filter = ["kind", "segment", "status", "language"]
    search_fields = ["number", "name"]
    inlines = [ContactPointInline, AddressInline, HoldingInline]


@admin.register(CustomerChange)
class CustomerChangeAdmin(admin.ModelAdmin):
    list_display = ["customer", "entity", "field", "old", "new", "by", "at"]
    list_filter = ["entity"]
    raw_id_fields = ["customer", "by"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    list_display = ["customer", "channel", "direction", "occurred_at", "case_reference"]
    list_filter = ["channel", "direction"]
    raw_id_fields = ["customer", "agent"]
    readonly_fields = ["customer", "channel", "direction", "occurred_at", "body"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Exports, erasures and merges: read-only, the trail is append-only."""

    list_display = ["action", "customer", "by", "at"]
    list_filter = ["action"]
    raw_id_fields = ["customer", "by"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CustomerMerge)
class CustomerMergeAdmin(AuditEventAdmin):
    """Merges are made and undone in the cockpit (`customers:customer-duplicates`)."""

    list_display = ["source", "target", "by", "at", "undone_at"]
    list_filter = []
    raw_id_fields = ["source", "target", "by", "undone_by"]
