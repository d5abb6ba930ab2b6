"""Roles for intake: agents read the inbox and outbox; admins manage channel keys, intake
rules and status notifications."""

from __future__ import annotations

from django.db import migrations

from cpm.roles import roles_sync_migration


class Migration(migrations.Migration):
    dependencies = [
        ("cpm", "0003_merge_roles"),
        ("cases", "0012_default_status_notices"),
    ]

    operations = [migrations.RunPython(roles_sync_migration, migrations.RunPython.noop)]
