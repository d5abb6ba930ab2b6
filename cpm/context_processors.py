from __future__ import annotations

from functools import cache

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from cpm.roles import Role, user_roles


def csp_nonce(request: HttpRequest) -> dict[str, object]:
    """django-csp names it CSP_NONCE, but `{% htmx_script %}` reads `csp_nonce`."""
    return {"csp_nonce": getattr(request, "csp_nonce", "")}


def roles(request: HttpRequest) -> dict[str, object]:
    """The user's roles for the top bar, looked up only when a template asks (fragments don't)."""
    user = getattr(request, "user", None)

    @cache
    def found() -> frozenset[Role]:
        return frozenset(user_roles(user)) if user is not None else frozenset()

    return {
        "is_agent": SimpleLazyObject(lambda: Role.AGENT in found()),
        "is_supervisor": SimpleLazyObject(lambda: Role.SUPERVISOR in found()),
        "is_admin": SimpleLazyObject(lambda: Role.ADMIN in found()),
    }
