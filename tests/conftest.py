from __future__ import annotations

import os
import socket

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from pytest_httpserver import HTTPServer

from cpm.roles import Role, roles_sync

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """One suite for SQLite and PostgreSQL; browser tests need Debian's chromium.

    Under CI a missing chromium fails the run instead of skipping it quietly.
    """
    for item in items:
        if "postgres" in item.keywords and connection.vendor != "postgresql":
            item.add_marker(pytest.mark.skip(reason="PostgreSQL only"))
        if "browser" in item.keywords and not os.path.exists(CHROMIUM):
            if os.environ.get("CI"):
                raise pytest.UsageError(f"CI needs {CHROMIUM} for the browser tests")
            item.add_marker(pytest.mark.skip(reason="chromium not installed"))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(autouse=True)
def _fast_hasher(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language. A request activates its language in the
    thread and nothing resets it: a test after one that asked in German would see German
    messages (it depended on which tests xdist gave a worker before it)."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    """Primary keys repeat between tests; cached process specs must not."""
    from django.core.cache import cache

    from cases.memo import memos_forget

    cache.clear()
    memos_forget()  # a transactional test's flush sends no signal


@pytest.fixture
def http_back_office(settings, httpserver: HTTPServer) -> HTTPServer:
    """The HTTP back-office connector, pointed at a real local test server."""
    settings.CPM_BILLING = {
        "connector": "http",
        "url": httpserver.url_for("/api"),
        "token": "t0ken",
        "timeout": 0.5,
        "cache_seconds": 60,
        "breaker_failures": 2,
        "breaker_seconds": 30,
    }
    return httpserver


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for a server a test starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def user_with_role(username: str, role: Role | None) -> User:
    user = User.objects.create_user(username=username, password="pw-" + username)
    if not Group.objects.exists():  # a transactional test flushed the migration's groups
        roles_sync()
    if role is not None:
        user.groups.add(Group.objects.get(name=role.value))
    if role is Role.ADMIN:
        user.is_staff = True
        user.save()
    return user


@pytest.fixture
def agent(db) -> User:
    return user_with_role("agent", Role.AGENT)


@pytest.fixture
def supervisor(db) -> User:
    return user_with_role("supervisor", Role.SUPERVISOR)


@pytest.fixture
def admin_user(db) -> User:
    return user_with_role("admin", Role.ADMIN)


@pytest.fixture
def nobody(db) -> User:
    """Logged in, but in no role."""
    return user_with_role("nobody", None)


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def agent_client(agent: User) -> Client:
    return logged_in(agent)


@pytest.fixture
def supervisor_client(supervisor: User) -> Client:
    return logged_in(supervisor)


@pytest.fixture
def admin_client(admin_user: User) -> Client:
    return logged_in(admin_user)
