from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = _("Cases")

    def ready(self) -> None:
        from django.core.signals import request_finished, request_started

        from cases import receivers  # noqa: F401 - connects to customers.signals
        from cases.flags import case_flags
        from cases.intake import LIVE_KEYS, RULES, inbound_expect, inbound_expect_end
        from cases.models import (
            BusinessCalendar,
            CaseType,
            ChannelKey,
            IntakeRule,
            SlaPolicy,
            WorkingHours,
        )
        from cases.notices import notice_signals_connect
        from cases.services import SLA_POLICIES
        from customers.selectors import flag_provider_register

        flag_provider_register(case_flags)
        notice_signals_connect()
        RULES.connect(IntakeRule, CaseType)
        LIVE_KEYS.connect(ChannelKey)
        request_started.connect(inbound_expect, dispatch_uid="intake-expect")
        request_finished.connect(inbound_expect_end, dispatch_uid="intake-expect-end")
        SLA_POLICIES.connect(SlaPolicy, BusinessCalendar, WorkingHours)
