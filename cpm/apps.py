from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CpmConfig(AppConfig):
    name = "cpm"
    verbose_name = _("CPM")

    def ready(self) -> None:
        from cpm.auth import permissions_signals_connect

        permissions_signals_connect()
