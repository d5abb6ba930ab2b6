from __future__ import annotations

import os
import sys

from django.apps import AppConfig
from django.conf import settings
from django.utils.translation import gettext_lazy as _


class CpmConfig(AppConfig):
    name = "cpm"
    verbose_name = _("CPM")

    def ready(self) -> None:
        from cpm.auth import permissions_signals_connect
        from cpm.env import forking_worker

        permissions_signals_connect()
        if forking_worker(sys.argv):
            worker_yield_cpu(settings.CPM_WORKER_NICE)


def worker_yield_cpu(niceness: int) -> None:
    """Lower the django-q2 cluster's CPU priority (its workers inherit it): a bulk job (a
    backlog of deliveries, the SLA sweep) then takes the CPU the web workers leave, and
    intake keeps its latency beside it (docs/benchmarks.md, "beside a bulk job")."""
    if niceness > 0:
        os.nice(niceness)
