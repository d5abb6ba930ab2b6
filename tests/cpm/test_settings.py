from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from cpm.env import database_config, env_bool, env_int, env_list, q_cluster_config, secret_key

BASE = Path(__file__).resolve().parents[2]
# What cpm.testing sets for the suite; a production start has none of it.
TEST_ONLY_VARIABLES = (
    "SECRET_KEY",
    "DEBUG",
    "SECURE_",
    "SESSION_COOKIE",
    "CSRF_COOKIE",
    "CPM_",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
)


def test_sqlite_under_var_is_the_default() -> None:
    config = database_config(BASE, environ={})
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == str(BASE / "var" / "cpm.sqlite3")
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def test_postgres_url_uses_psycopg_pool_without_persistent_connections() -> None:
    config = database_config(
        BASE, environ={"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/cpm"}
    )
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert config["NAME"] == "cpm"
    assert config["CONN_MAX_AGE"] == 0
    assert config["OPTIONS"]["pool"]["max_size"] == 8
    assert config["OPTIONS"]["prepare_threshold"] == 5  # intake's statements repeat


def test_prepared_statements_can_be_turned_off_for_a_pooler_in_transaction_mode() -> None:
    config = database_config(BASE, environ={"DATABASE_URL": "postgres://h/cpm", "DB_PREPARED": "0"})
    assert "prepare_threshold" not in config["OPTIONS"]


@pytest.mark.parametrize("argv", [["manage.py", "qcluster"], ["django-admin", "qcluster"]])
def test_the_task_cluster_keeps_plain_connections_instead_of_a_pool(argv) -> None:
    """It forks its workers: a pool made before the fork would be shared by processes."""
    pg = {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/cpm"}
    cluster = database_config(BASE, environ=pg, argv=argv)
    web = database_config(BASE, environ=pg, argv=["gunicorn", "cpm.wsgi:application"])
    switched_off = database_config(BASE, environ={**pg, "DB_POOL": "0"}, argv=["manage.py"])

    assert "pool" not in cluster["OPTIONS"] and cluster["CONN_MAX_AGE"] == 60
    assert "pool" in web["OPTIONS"] and web["CONN_MAX_AGE"] == 0
    assert "pool" not in switched_off["OPTIONS"]
    assert cluster["OPTIONS"]["server_side_binding"] is True


def test_the_task_cluster_yields_the_cpu_to_the_web_workers() -> None:
    script = (
        "import os; from cpm.apps import worker_yield_cpu; before = os.nice(0); "
        "worker_yield_cpu(7); print(os.nice(0) - before)"
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith(TEST_ONLY_VARIABLES)}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=BASE, env=environ, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "7"


def test_unsupported_database_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="SQLite or PostgreSQL"):
        database_config(BASE, environ={"DATABASE_URL": "mysql://root@localhost/cpm"})


def test_secret_key_is_required_when_debug_is_off() -> None:
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
        secret_key(False, environ={})
    assert secret_key(True, environ={}).startswith("django-insecure")
    assert secret_key(False, environ={"SECRET_KEY": "s3cr3t"}) == "s3cr3t"


@pytest.mark.parametrize(
    ("raw", "value"), [("1", True), ("yes", True), ("off", False), ("0", False)]
)
def test_env_bool_reads_common_words(raw: str, value: bool) -> None:
    assert env_bool("DEBUG", not value, environ={"DEBUG": raw}) is value


def test_env_helpers_fail_loudly_on_nonsense() -> None:
    with pytest.raises(ImproperlyConfigured, match="DEBUG"):
        env_bool("DEBUG", False, environ={"DEBUG": "maybe"})
    with pytest.raises(ImproperlyConfigured, match="EMAIL_PORT"):
        env_int("EMAIL_PORT", 25, environ={"EMAIL_PORT": "twenty-five"})
    assert env_list("ALLOWED_HOSTS", [], environ={"ALLOWED_HOSTS": "a.example, b.example,"}) == [
        "a.example",
        "b.example",
    ]


def test_task_broker_is_the_database_unless_redis_is_configured() -> None:
    assert q_cluster_config(environ={})["orm"] == "default"
    assert q_cluster_config(environ={})["broker_class"] == "cpm.broker.OrmBroker"
    redis = q_cluster_config(environ={"REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert redis["redis"] == "redis://127.0.0.1:6379/0"
    assert "orm" not in redis and "broker_class" not in redis
    assert redis["retry"] > redis["timeout"]  # or a slow task runs twice


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(TEST_ONLY_VARIABLES)}
    environ.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE, env=environ, capture_output=True, text=True
    )


def test_deploy_check_is_clean_with_production_settings() -> None:
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY="prod-" + "k3y-Zq9!x" * 8,
        ALLOWED_HOSTS="cpm.example.com",
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_start_without_secret_key_is_refused_when_debug_is_off() -> None:
    result = run_manage("check", DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_gateways_are_read_per_channel_and_checked() -> None:
    from cpm.env import gateways_config

    assert gateways_config({}) == {"channels": {}, "timeout": 5.0}
    config = gateways_config(
        {
            "CPM_GATEWAY_SMS_URL": "https://sms.example/send",
            "CPM_GATEWAY_SMS_TOKEN": "s3cret",
            "CPM_GATEWAY_TIMEOUT": "2.5",
        }
    )
    assert config == {
        "channels": {"sms": {"url": "https://sms.example/send", "token": "s3cret"}},
        "timeout": 2.5,
    }
    for bad in ({"CPM_GATEWAY_CHAT_URL": "ftp://x"}, {"CPM_GATEWAY_TIMEOUT": "0"}):
        with pytest.raises(ImproperlyConfigured):
            gateways_config(bad)
