"""The WSGI application: Django's, with intake requests handled by a leaner stack.

`POST /api/v1/inbound/…` (gateways, hundreds of times a second) is authenticated by its
channel key, answers JSON and never uses a session, a login, CSRF, messages or htmx: it
goes through a second Django handler built with `CPM_INTAKE_MIDDLEWARE` (security headers
and the language of error messages), about a tenth less CPU per message. Every other
request (pages, the API's documentation) goes through `MIDDLEWARE` as before. Both are
Django's `WSGIHandler`: the same signals (request started and finished, so connections
are returned and intake's group commit sees requests coming), the same URLs and errors.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpm.settings")
# Threaded workers (gunicorn gthread) spend their time waiting on the database. A thread
# whose answer has arrived waits for the GIL until the running thread yields it: 5 ms by
# default, for every statement. A shorter interval keeps that wait well under a millisecond.
sys.setswitchinterval(float(os.environ.get("CPM_GIL_SWITCH_SECONDS", "0.0005")))

django_application = get_wsgi_application()  # sets Django up

from django.conf import settings  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

INTAKE_PATH = re.compile(r"^/api/v1/inbound/")


class IntakeHandler(WSGIHandler):
    """Django's handler with `CPM_INTAKE_MIDDLEWARE` instead of `MIDDLEWARE`."""

    def load_middleware(self, is_async: bool = False) -> None:
        with override_settings(MIDDLEWARE=settings.CPM_INTAKE_MIDDLEWARE):
            super().load_middleware(is_async)


intake_application = IntakeHandler()


def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
    if INTAKE_PATH.match(environ.get("PATH_INFO", "")):
        return intake_application(environ, start_response)
    return django_application(environ, start_response)
