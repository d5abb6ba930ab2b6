from __future__ import annotations

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from cases.models import BusinessCalendar, Case, CaseEvent, CaseType, SlaPolicy, Team, WorkingHours


@admin.register(Case)
class CaseAdmin(SimpleHistoryAdmin):
    """The state is read-only here: it changes only through the case screen's transitions."""

    list_display = [
        "reference",
        "subject",
        "customer",
        "state",
        "priority",
        "team",
        "assignee",
        "created_at",
    ]
    list_filter = ["state", "priority", "team", "case_type"]
    search_fields = ["reference", "subject"]
    raw_id_fields = ["customer", "assignee", "escalated_by"]
    readonly_fields = [
        "reference",
        "state",
        "resolved_at",
        "escalation_reason",
        "escalated_at",
        "escalated_by",
        "instruction",
    ]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]
    filter_horizontal = ["members"]


@admin.register(CaseType)
class CaseTypeAdmin(admin.ModelAdmin):
    list_display = ["name_en", "name_de", "category", "default_team", "default_priority"]
    list_filter = ["category", "default_team"]
    search_fields = ["name_en", "name_de"]


@admin.register(CaseEvent)
class CaseEventAdmin(admin.ModelAdmin):
    list_display = ["case", "kind", "source", "target", "by", "at"]
    list_filter = ["kind"]
    raw_id_fields = ["case", "customer", "by"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # the audit trail is append-only


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    extra = 1


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = ["name", "time_zone", "german_state"]
    inlines = [WorkingHoursInline]


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "case_type",
        "priority",
        "first_response_minutes",
        "resolution_minutes",
        "warn_percent",
        "calendar",
    ]
    list_filter = ["priority", "calendar"]
