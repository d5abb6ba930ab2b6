"""Supervisors and admins may export, erase and merge customers (new permissions)."""

from __future__ import annotations

from django.db import migrations

from cpm.roles import roles_sync_migration


class Migration(migrations.Migration):
    dependencies = [
        ("cpm", "0003_merge_roles"),
        ("customers", "0003_privacy_merge"),
    ]

    operations = [migrations.RunPython(roles_sync_migration, migrations.RunPython.noop)]
