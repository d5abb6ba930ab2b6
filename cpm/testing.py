"""A pytest plugin (loaded with `-p cpm.testing`) that runs before Django is set up.

The suite runs with DEBUG off, as production does, so it needs a SECRET_KEY; this gives it a
throw-away one unless the environment already has one.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-" + "x" * 40)
os.environ.setdefault("CPM_PLAIN_STATIC", "1")
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # playwright's sync API + the ORM
# Tests and the browser talk plain HTTP to the test server.
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("SESSION_COOKIE_SECURE", "0")
os.environ.setdefault("CSRF_COOKIE_SECURE", "0")

# WhiteNoise warns until its STATIC_ROOT exists.
(Path(__file__).resolve().parent.parent / "var" / "staticfiles").mkdir(parents=True, exist_ok=True)
