from __future__ import annotations

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from cases.models import Case, CaseEvent


@admin.register(Case)
class CaseAdmin(SimpleHistoryAdmin):
    """The state is read-only here: it changes only through the case screen's transitions."""

    list_display = ["reference", "subject", "customer", "state", "assignee", "created_at"]
    list_filter = ["state"]
    search_fields = ["reference", "subject"]
    raw_id_fields = ["customer", "assignee"]
    readonly_fields = ["reference", "state"]


@admin.register(CaseEvent)
class CaseEventAdmin(admin.ModelAdmin):
    list_display = ["case", "kind", "source", "target", "by", "at"]
    list_filter = ["kind"]
    raw_id_fields = ["case", "customer", "by"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # the audit trail is append-only
