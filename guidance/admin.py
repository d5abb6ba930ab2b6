"""Django's admin as a fallback for the process editor (the editor is at /processes/).

Only a draft's steps may be changed here; published and retired versions are read-only,
because a guided run keeps the version it started with. Versions are created and
published only in the editor (services), so the admin offers no publish button.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from guidance.models import (
    Offer,
    ProcessDefinition,
    ProcessVersion,
    Route,
    Step,
    StepAction,
    StepField,
)


class DraftOnly:
    """Change, add and delete only where the version is a draft."""

    def editable(self, obj: object | None) -> bool:
        if obj is None:
            return True
        version = obj if isinstance(obj, ProcessVersion) else getattr(obj, "version", None)
        return version is None or version.is_editable

    def has_change_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return self.editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return self.editable(obj) and super().has_delete_permission(request, obj)


class DraftOnlyInline(DraftOnly, admin.TabularInline):
    extra = 0

    def has_add_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return self.editable(obj) and super().has_add_permission(request, obj)


class FieldInline(DraftOnlyInline):
    model = StepField


class RouteInline(DraftOnlyInline):
    model = Route


class ActionInline(DraftOnlyInline):
    model = StepAction


@admin.register(ProcessDefinition)
class ProcessDefinitionAdmin(admin.ModelAdmin):
    list_display = ["key", "name_de", "name_en"]
    search_fields = ["key", "name_de", "name_en"]


class StepInline(admin.TabularInline):
    model = Step
    fields = ["position", "key", "kind", "title_en"]
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False


@admin.register(ProcessVersion)
class ProcessVersionAdmin(admin.ModelAdmin):
    list_display = ["definition", "number", "status", "created_at", "published_at"]
    list_filter = ["status", "definition"]
    readonly_fields = ["definition", "number", "status", "created_at", "created_by", "published_at"]
    inlines = [StepInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # drafts are started in the editor, which copies the published version

    def has_delete_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False


@admin.register(Step)
class StepAdmin(DraftOnly, admin.ModelAdmin):
    list_display = ["key", "version", "position", "kind", "title_en"]
    list_filter = ["kind", "version__definition", "version__status"]
    search_fields = ["key", "title_de", "title_en"]
    raw_id_fields = ["version"]
    inlines = [FieldInline, RouteInline, ActionInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a step is added to a draft in the editor


@admin.register(Offer)
class OfferAdmin(admin.ModelAdmin):
    """The offer catalog; the model's clean() refuses a rule that does not check."""

    list_display = ("key", "kind", "name_en", "value_weight", "control_percent", "active")
    list_filter = ("kind", "active", "service_recovery")
    search_fields = ("key", "name_de", "name_en", "product")
    fieldsets = (
        (None, {"fields": ("key", "kind", "active", "name_de", "name_en")}),
        (
            _("Texts"),
            {"fields": ("pitch_de", "pitch_en", "benefit_de", "benefit_en")},
        ),
        (
            _("Eligibility and guardrails"),
            {
                "fields": (
                    "rule",
                    "product",
                    "service_recovery",
                    "channels",
                    ("valid_from", "valid_until"),
                    ("cooldown_days", "cap_count", "cap_days"),
                )
            },
        ),
        (
            _("Ranking and measurement"),
            {"fields": ("value_weight", "control_percent", "process_key")},
        ),
        (
            _("On acceptance"),
            {"fields": ("connector_action", "connector_value")},
        ),
    )
