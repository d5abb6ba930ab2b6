"""CPM settings: one module, every value from the environment (see .env.example)."""

from __future__ import annotations

import os
from pathlib import Path

from csp.constants import NONCE, SELF
from django.utils.translation import gettext_lazy as _

from cpm.env import (
    billing_config,
    caches_config,
    database_config,
    env_bool,
    env_int,
    env_list,
    gateways_config,
    q_cluster_config,
    secret_key,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = secret_key(DEBUG)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_htmx",
    "template_partials",
    "django_q",
    "simple_history",
    "csp",
    "ninja",  # serves the API docs' assets from static/, no CDN
    "customers",
    "guidance",
    "cases",
    "cpm",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]
# The intake API's requests (cpm/wsgi.py): channel keys, JSON, no session or page.
CPM_INTAKE_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.locale.LocaleMiddleware",
]

ROOT_URLCONF = "cpm.urls"
WSGI_APPLICATION = "cpm.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cpm.context_processors.csp_nonce",
                "cpm.context_processors.roles",
            ],
        },
    },
]

DATABASES = {"default": database_config(BASE_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Permission sets are cached between requests and dropped when roles change (cpm.auth).
AUTHENTICATION_BACKENDS = ["cpm.auth.CachedPermissionsBackend"]
CACHES = caches_config()

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("de", _("German")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Berlin"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploaded and received files (attachments). Never served as static files: the case screen's
# download view checks the role first.
MEDIA_ROOT = Path(os.environ.get("CPM_MEDIA_ROOT") or BASE_DIR / "var" / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or env_bool("CPM_PLAIN_STATIC", False)
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# E-mail: the console in development, SMTP in production.
EMAIL_BACKEND = (
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend"
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "service@cpm.example")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

Q_CLUSTER = q_cluster_config()
# The cluster's CPU priority below the web workers' (nice, 0-19): cpm/apps.py.
CPM_WORKER_NICE = env_int("CPM_WORKER_NICE", 10)

# Security: strict by default outside DEBUG, so `check --deploy` is clean.
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 12 * 60 * 60)

# No inline script anywhere: customer text can never run as code (RELIABILITY.md).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": ["'none'"],
        "base-uri": [SELF],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

CPM_CASE_REOPEN_DAYS = env_int("CPM_CASE_REOPEN_DAYS", 14)

# Intake API (cases.intake): the request size limit and how long an open case takes
# follow-up messages of its customer on any channel.
CPM_INTAKE_MAX_BYTES = env_int("CPM_INTAKE_MAX_BYTES", 1024 * 1024)
# The batch endpoint (up to 100 messages, each within CPM_INTAKE_MAX_BYTES).
CPM_INTAKE_BATCH_MAX_BYTES = env_int("CPM_INTAKE_BATCH_MAX_BYTES", 4 * 1024 * 1024)
# Django refuses larger bodies before the API can answer 413 with its own limit.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(2_621_440, CPM_INTAKE_MAX_BYTES, CPM_INTAKE_BATCH_MAX_BYTES)
CPM_INTAKE_THREAD_DAYS = env_int("CPM_INTAKE_THREAD_DAYS", 14)
# Automatic acknowledgements to one address per hour (robot loops, RELIABILITY.md).
CPM_ACKNOWLEDGEMENTS_PER_HOUR = env_int("CPM_ACKNOWLEDGEMENTS_PER_HOUR", 5)
# Attachments of inbound e-mail: larger ones are recorded without their content.
CPM_ATTACHMENT_MAX_BYTES = env_int("CPM_ATTACHMENT_MAX_BYTES", 5 * 1024 * 1024)
# SMTP intake (manage.py smtp_intake): the largest mail it takes (552 above).
CPM_SMTP_MAX_BYTES = env_int("CPM_SMTP_MAX_BYTES", 10 * 1024 * 1024)
# STARTTLS for SMTP intake (both paths), and the one login the sending server uses.
CPM_SMTP_TLS_CERT = os.environ.get("CPM_SMTP_TLS_CERT", "")
CPM_SMTP_TLS_KEY = os.environ.get("CPM_SMTP_TLS_KEY", "")
CPM_SMTP_USER = os.environ.get("CPM_SMTP_USER", "")
CPM_SMTP_PASSWORD = os.environ.get("CPM_SMTP_PASSWORD", "")
# Back-office connector for billing, orders and contracts (customers/connectors/).
CPM_BILLING = billing_config()
# Outbound gateways for SMS, chat and social (cases.gateway); the log backend without one.
CPM_GATEWAYS = gateways_config()
