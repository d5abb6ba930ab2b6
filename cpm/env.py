"""Small, loud helpers that read settings from the environment.

Every helper raises ImproperlyConfigured on a value it cannot understand, so a typo in a
deployment fails at start-up instead of quietly falling back to a default.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool, environ: Mapping[str, str] = os.environ) -> bool:
    raw = environ.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(
        f"{name} must be one of 1/0, true/false, yes/no, on/off; got {raw!r}"
    )


def env_int(name: str, default: int, environ: Mapping[str, str] = os.environ) -> int:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number; got {raw!r}") from None


def env_list(name: str, default: list[str], environ: Mapping[str, str] = os.environ) -> list[str]:
    raw = environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def secret_key(debug: bool, environ: Mapping[str, str] = os.environ) -> str:
    """The SECRET_KEY; a development default exists only while DEBUG is on."""
    key = environ.get("SECRET_KEY", "")
    if key:
        return key
    if debug:
        return "django-insecure-cpm-development-only-never-use-this-key-in-production"
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")


def database_config(
    base_dir: Path, environ: Mapping[str, str] = os.environ, argv: list[str] = sys.argv
) -> dict[str, Any]:
    """SQLite under var/ by default; PostgreSQL (psycopg 3 with Django's pool) by DATABASE_URL.

    The django-q2 cluster (`manage.py qcluster`) gets no pool: it forks its workers, and a
    pool made before the fork would hand one connection to several processes (django-q2
    then fails to pull tasks: "can't change 'autocommit' now"); each of its processes runs
    one task at a time and needs one connection. `DB_POOL=0` turns the pool off elsewhere.
    """
    url = environ.get("DATABASE_URL") or f"sqlite:///{base_dir / 'var' / 'cpm.sqlite3'}"
    try:
        config = dj_database_url.parse(url, conn_health_checks=True)
    except ValueError as error:
        raise ImproperlyConfigured(f"DATABASE_URL cannot be parsed: {error}") from None
    engine = config["ENGINE"]
    if engine == "django.db.backends.postgresql":
        # Parameters travel apart from the statement (no quoting in Python; arrays and
        # JSON in binary): about a tenth of the CPU of a bulk insert (intake).
        config.setdefault("OPTIONS", {})["server_side_binding"] = True
        # A statement run five times on a connection is prepared there (psycopg), so the
        # server plans it once: intake's statements repeat. Django leaves this off for
        # poolers in transaction mode (PgBouncer): set DB_PREPARED=0 behind one.
        if env_bool("DB_PREPARED", True, environ):
            config["OPTIONS"]["prepare_threshold"] = 5
        if env_bool("DB_POOL", True, environ) and not forking_worker(argv):
            config["CONN_MAX_AGE"] = 0  # Django's pool refuses persistent connections
            config["OPTIONS"]["pool"] = {
                "min_size": env_int("DB_POOL_MIN", 1, environ),
                "max_size": env_int("DB_POOL_MAX", 8, environ),
                "timeout": 10,
            }
        else:  # a connection kept a minute, not opened (a server process forked) per task
            config["CONN_MAX_AGE"] = 60
    elif engine == "django.db.backends.sqlite3":
        # IMMEDIATE transactions and WAL let the web server and the worker write side by side.
        config.setdefault("OPTIONS", {}).update(
            {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            }
        )
    else:
        raise ImproperlyConfigured(f"DATABASE_URL must point at SQLite or PostgreSQL, not {engine}")
    return config


def forking_worker(argv: list[str]) -> bool:
    """This process is the django-q2 cluster (`manage.py qcluster`, `django-admin qcluster`)."""
    return argv[1:2] == ["qcluster"]


def q_cluster_config(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """django-q2: the ORM broker by default, Redis when REDIS_URL is set.

    `retry` must exceed `timeout`, or a slow task runs twice (django-q #183).
    """
    config: dict[str, Any] = {
        "name": "cpm",
        "workers": env_int("Q_WORKERS", 2, environ),
        "timeout": 60,
        "retry": 120,
        "max_attempts": 3,
        "ack_failures": False,
        "save_limit": 250,
        "queue_limit": 50,
        "catch_up": False,
        "poll": 1,
        "sync": env_bool("Q_SYNC", False, environ),
    }
    redis_url = environ.get("REDIS_URL", "")
    if redis_url:
        config["redis"] = redis_url
    else:
        config["orm"] = "default"
        config["broker_class"] = "cpm.broker.OrmBroker"  # the ORM broker, enqueueing cheaper
    return config


def env_float(name: str, default: float, environ: Mapping[str, str] = os.environ) -> float:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number; got {raw!r}") from None


def billing_config(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The back-office (billing) connector: `local` (our database) or `http` (a JSON API)."""
    kind = environ.get("CPM_BILLING_CONNECTOR", "local").strip().lower() or "local"
    if kind not in ("local", "http"):
        raise ImproperlyConfigured(f"CPM_BILLING_CONNECTOR must be local or http; got {kind!r}")
    url = environ.get("CPM_BILLING_URL", "").strip().rstrip("/")
    if kind == "http" and not url.startswith(("http://", "https://")):
        raise ImproperlyConfigured("CPM_BILLING_URL must be an http(s) URL for the http connector")
    return {
        "connector": kind,
        "url": url,
        "token": environ.get("CPM_BILLING_TOKEN", ""),
        "timeout": env_float("CPM_BILLING_TIMEOUT", 2.0, environ),
        "cache_seconds": env_int("CPM_BILLING_CACHE_SECONDS", 60, environ),
        "breaker_failures": env_int("CPM_BILLING_BREAKER_FAILURES", 3, environ),
        "breaker_seconds": env_int("CPM_BILLING_BREAKER_SECONDS", 30, environ),
    }


def caches_config(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """Django's cache: shared in Redis when REDIS_URL is set, else per process in memory.

    Cached permission sets (cpm.auth) are dropped everywhere at once only with a shared
    cache; in memory they live at most PERMISSIONS_TTL seconds in the other processes.
    """
    redis_url = environ.get("REDIS_URL", "")
    if redis_url:
        backend = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}
    else:
        backend = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    return {"default": {**backend, "KEY_PREFIX": "cpm"}}


GATEWAY_CHANNELS = ("sms", "chat", "social")


def gateways_config(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """HTTP gateways for outbound SMS, chat and social messages (cases.gateway).

    `CPM_GATEWAY_<CHANNEL>_URL` and `_TOKEN` per channel; a channel without a URL uses the
    log backend (the demo), and chat and social are then not offered for replies.
    `CPM_GATEWAY_TIMEOUT` (seconds) bounds every call.
    """
    channels: dict[str, dict[str, str]] = {}
    for channel in GATEWAY_CHANNELS:
        prefix = f"CPM_GATEWAY_{channel.upper()}"
        url = environ.get(f"{prefix}_URL", "").strip()
        if not url:
            continue
        if not url.startswith(("http://", "https://")):
            raise ImproperlyConfigured(f"{prefix}_URL must be an http(s) URL; got {url!r}")
        channels[channel] = {"url": url, "token": environ.get(f"{prefix}_TOKEN", "")}
    timeout = env_float("CPM_GATEWAY_TIMEOUT", 5.0, environ)
    if not 0 < timeout <= 120:
        raise ImproperlyConfigured(f"CPM_GATEWAY_TIMEOUT must be 0-120 seconds; got {timeout}")
    return {"channels": channels, "timeout": timeout}
