from __future__ import annotations

from django.http import HttpRequest

from cpm.roles import Role, user_roles


def csp_nonce(request: HttpRequest) -> dict[str, object]:
    """django-csp names it CSP_NONCE, but `{% htmx_script %}` reads `csp_nonce`."""
    return {"csp_nonce": getattr(request, "csp_nonce", "")}


def roles(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    found = user_roles(user) if user is not None else set()
    return {
        "is_agent": Role.AGENT in found,
        "is_supervisor": Role.SUPERVISOR in found,
        "is_admin": Role.ADMIN in found,
    }
