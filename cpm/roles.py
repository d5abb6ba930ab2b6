"""The three roles and what each may do. A role is a Django group with these permissions.

Views check permissions (never group names), so a role changes here and in a migration,
not across the code. `tests/cpm/test_access.py` holds the expected answer of every URL
for every role.
"""

from __future__ import annotations

from enum import StrEnum

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from cpm.auth import user_group_names


class Role(StrEnum):
    AGENT = "Agent"
    SUPERVISOR = "Supervisor"
    ADMIN = "Admin"


AGENT_PERMISSIONS = [
    "customers.view_customer",
    "customers.change_customer",
    "customers.view_interaction",
    "customers.add_interaction",
    "cases.view_case",
    "cases.add_case",
    "cases.change_case",
    "cases.view_caseevent",
    "cases.view_guidedrun",
    "cases.change_guidedrun",
    "cases.view_team",
    "cases.view_casetype",
    "cases.view_inboundmessage",
    "cases.view_outboundmessage",
    "cases.view_replytemplate",
    "cases.view_offeroutcome",
    "cases.add_offeroutcome",
    "guidance.view_offer",
]
SUPERVISOR_PERMISSIONS = [
    *AGENT_PERMISSIONS,
    "customers.export_customer",
    "customers.erase_customer",
    "customers.merge_customer",
    # Segment and status decide pricing, offers and blocking: not an agent's call.
    "customers.change_customer_segment",
    "cases.close_case",
    "cases.cancel_case",
    "cases.handle_escalation",
    "cases.undo_casemerge",
    "cases.decide_guidedrun",
    "cases.view_offer_report",
]
# The process editor (guidance.change_processdefinition) and its Django-admin fallback.
PROCESS_EDITOR_PERMISSIONS = [
    "guidance.view_processdefinition",
    "guidance.add_processdefinition",
    "guidance.change_processdefinition",
    "guidance.view_processversion",
    *[
        f"guidance.{verb}_{model}"
        for model in ("step", "stepfield", "route", "stepaction")
        for verb in ("view", "add", "change", "delete")
    ],
]
ADMIN_PERMISSIONS = [
    *SUPERVISOR_PERMISSIONS,
    "customers.add_customer",
    "customers.delete_customer",
    "auth.view_user",
    "auth.add_user",
    "auth.change_user",
    "auth.view_group",
    "cases.add_team",
    "cases.change_team",
    "cases.delete_team",
    "cases.add_casetype",
    "cases.change_casetype",
    "cases.delete_casetype",
    "guidance.add_offer",
    "guidance.change_offer",
    "guidance.delete_offer",
    *(
        f"cases.{action}_{model}"
        for model in ("businesscalendar", "workinghours", "slapolicy")
        for action in ("view", "add", "change", "delete")
    ),
    *PROCESS_EDITOR_PERMISSIONS,
    # Intake: channel keys and the rules that choose a new message's case type.
    *(
        f"cases.{action}_{model}"
        for model in ("channelkey", "intakerule", "statusnotice")
        for action in ("view", "add", "change", "delete")
    ),
    # Replies: the templates agents start from; who moved which message (read-only).
    *(f"cases.{action}_replytemplate" for action in ("add", "change", "delete")),
    "cases.view_messagemove",
]

ROLE_PERMISSIONS: dict[Role, list[str]] = {
    Role.AGENT: AGENT_PERMISSIONS,
    Role.SUPERVISOR: SUPERVISOR_PERMISSIONS,
    Role.ADMIN: ADMIN_PERMISSIONS,
}


def user_roles(user: AbstractBaseUser | AnonymousUser) -> set[Role]:
    if not user.is_authenticated:
        return set()
    names = user_group_names(user)
    roles = {role for role in Role if role.value in names}
    if user.is_superuser:
        roles.add(Role.ADMIN)
    return roles


def roles_sync(apps=None) -> None:
    """Create or update the role groups with their permissions.

    Runs in the roles migration (with the historical `apps`) and wherever the groups must
    exist again, e.g. after a test flushed the database. Permissions are created first,
    because Django makes them only after all migrations.
    """
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    apps = apps or global_apps
    for app_config in apps.get_app_configs():
        # create_permissions skips app configs without a models module, which the
        # migration state's stubs never have.
        had_models = getattr(app_config, "models_module", None)
        app_config.models_module = had_models or True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = had_models
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role.value)
        # A permission of a model that a later migration creates is not there yet; that
        # migration calls roles_sync again.
        wanted = [
            permission
            for label, codename in (name.split(".") for name in names)
            for permission in permission_model.objects.filter(
                content_type__app_label=label, codename=codename
            )
        ]
        group.permissions.set(wanted)


def roles_sync_migration(apps, schema_editor) -> None:
    """The RunPython body of every roles migration: `RunPython(roles_sync_migration, noop)`."""
    roles_sync(apps)
