from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from guidance.models import Offer


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
    )
