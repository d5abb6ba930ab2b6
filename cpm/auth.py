"""Permission checks without two queries per request.

Django's ModelBackend loads a user's permissions (their own and their groups') on every
request. Roles change rarely, so the set is kept in the cache under a generation key; any
change to users' groups or permissions, to groups, or a migration starts a new generation,
which drops every cached set at once. With a per-process cache (no REDIS_URL) the other
processes keep theirs at most PERMISSIONS_TTL seconds.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache

PERMISSIONS_TTL = 60
GENERATION_KEY = "auth:permissions:generation"


def permissions_generation() -> str:
    return cache.get_or_set(GENERATION_KEY, lambda: uuid.uuid4().hex, timeout=None)


def permissions_key(user: Any) -> str:
    return f"auth:permissions:{permissions_generation()}:{user.pk}:{user.is_superuser:d}"


def user_group_names(user: Any) -> frozenset[str]:
    """The names of the user's groups (their roles), cached like the permission sets."""
    key = f"auth:groups:{permissions_generation()}:{user.pk}"
    names = cache.get(key)
    if names is None:
        names = frozenset(user.groups.values_list("name", flat=True))
        cache.set(key, names, PERMISSIONS_TTL)
    return names


def permissions_forget(**_signal: Any) -> None:
    """A new generation: every cached permission set is stale from now on."""
    cache.set(GENERATION_KEY, uuid.uuid4().hex, timeout=None)


def permissions_signals_connect() -> None:
    """Whatever can change a user's permissions starts a new generation."""
    from django.contrib.auth.models import Group, Permission, User
    from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save

    for through in (User.groups.through, User.user_permissions.through, Group.permissions.through):
        m2m_changed.connect(permissions_forget, sender=through, dispatch_uid=f"perms-{through}")
    for model in (Group, Permission, User):
        post_delete.connect(permissions_forget, sender=model, dispatch_uid=f"perms-del-{model}")
    for model in (Group, Permission):
        post_save.connect(permissions_forget, sender=model, dispatch_uid=f"perms-save-{model}")
    post_migrate.connect(permissions_forget, dispatch_uid="perms-migrate")


class CachedPermissionsBackend(ModelBackend):
    """ModelBackend whose permission sets outlive the request (see the module's doc)."""

    def get_all_permissions(self, user_obj, obj=None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            key = permissions_key(user_obj)
            cached = cache.get(key)
            if cached is None:
                cached = frozenset(super().get_all_permissions(user_obj))
                cache.set(key, cached, PERMISSIONS_TTL)
            user_obj._perm_cache = set(cached)
        return user_obj._perm_cache
