from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from simple_history.admin import SimpleHistoryAdmin

from cases.intake import channel_key_create, channel_key_revoke
from cases.models import (
    BusinessCalendar,
    Case,
    CaseEvent,
    CaseType,
    ChannelKey,
    InboundMessage,
    IntakeRule,
    MessageMove,
    OutboundMessage,
    ReplyTemplate,
    SlaPolicy,
    StatusNotice,
    Team,
    WorkingHours,
)


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


@admin.register(ChannelKey)
class ChannelKeyAdmin(admin.ModelAdmin):
    """Keys are made here and shown once; afterwards only their first characters are known."""

    list_display = [
        "name",
        "channel",
        "prefix",
        "require_signature",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["channel", "require_signature"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    actions = ["revoke"]

    def get_fields(self, request: HttpRequest, obj: ChannelKey | None = None) -> list[str]:
        if obj is None:
            return ["channel", "name", "require_signature"]
        return [
            "channel",
            "name",
            "prefix",
            "require_signature",
            "created_at",
            "last_used_at",
            "revoked_at",
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: ChannelKey | None = None) -> list[str]:
        return [] if obj is None else ["channel", "prefix", "created_at", "last_used_at"]

    def save_model(self, request: HttpRequest, obj: ChannelKey, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created, key = channel_key_create(
            channel=obj.channel, name=obj.name, require_signature=obj.require_signature
        )
        obj.pk = created.pk
        messages.warning(
            request,
            _("The new key, shown only now; copy it to the gateway: %(key)s") % {"key": key},
        )

    @admin.action(description=gettext_lazy("Revoke the selected keys"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[ChannelKey]) -> None:
        for key in queryset:
            channel_key_revoke(key=key)


@admin.register(IntakeRule)
class IntakeRuleAdmin(admin.ModelAdmin):
    list_display = ["position", "case_type", "channel", "keywords"]
    list_editable = ["keywords"]
    list_display_links = ["position"]


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):
    """The inbox as delivered: read-only (reprocessing is the exception queue's button)."""

    list_display = ["external_id", "channel", "status", "received_at", "case", "reason_display"]
    list_filter = ["channel", "status", "needs_confirmation"]
    search_fields = ["external_id"]
    raw_id_fields = ["key", "customer", "case", "interaction", "exception"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: InboundMessage | None = None
    ) -> bool:
        return False


@admin.register(StatusNotice)
class StatusNoticeAdmin(admin.ModelAdmin):
    list_display = ["state", "case_type"]
    list_filter = ["state"]


@admin.register(OutboundMessage)
class OutboundMessageAdmin(admin.ModelAdmin):
    """The outbox: read-only; delivery is the task's job."""

    list_display = ["idempotency_key", "channel", "status", "attempts", "created_at", "sent_at"]
    list_filter = ["channel", "status"]
    raw_id_fields = ["customer", "case", "interaction"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: OutboundMessage | None = None
    ) -> bool:
        return False


@admin.register(ReplyTemplate)
class ReplyTemplateAdmin(admin.ModelAdmin):
    """Texts agents start replies from; placeholders are checked on save (model `clean`)."""

    list_display = ["name", "position", "active", "subject_de", "subject_en"]
    list_editable = ["position", "active"]
    list_filter = ["active"]
    search_fields = ["name", "subject_de", "subject_en"]
    fieldsets = [
        (None, {"fields": ["name", "position", "active"]}),
        (
            gettext_lazy("Texts"),
            {
                "fields": ["subject_de", "body_de", "subject_en", "body_en"],
                "description": gettext_lazy(
                    "Placeholders: {customer_name}, {case_reference}, {next_step}."
                ),
            },
        ),
    ]


@admin.register(MessageMove)
class MessageMoveAdmin(admin.ModelAdmin):
    """Who moved which message where (read-only: moves happen on the case screen)."""

    list_display = ["message", "from_case", "to_case", "by", "at", "undone_at"]
    raw_id_fields = ["message", "from_case", "to_case"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
