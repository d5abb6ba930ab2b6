"""Give the roles the guided-run permissions (cpm.roles)."""

from __future__ import annotations

from django.db import migrations

from cpm.roles import roles_sync_migration


class Migration(migrations.Migration):
    dependencies = [
        ("cpm", "0001_roles"),
        ("cases", "0002_guided_runs"),
    ]

    operations = [migrations.RunPython(roles_sync_migration, migrations.RunPython.noop)]
