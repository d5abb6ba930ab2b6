from __future__ import annotations

import os
import sys

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpm.settings")
# Threaded workers (gunicorn gthread) spend their time waiting on the database. A thread
# whose answer has arrived waits for the GIL until the running thread yields it: 5 ms by
# default, for every statement. A shorter interval keeps that wait well under a millisecond.
sys.setswitchinterval(float(os.environ.get("CPM_GIL_SWITCH_SECONDS", "0.0005")))
application = get_wsgi_application()
