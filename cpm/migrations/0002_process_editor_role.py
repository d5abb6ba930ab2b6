"""Give the Admin role the process editor's permissions (cpm.roles.PROCESS_EDITOR_PERMISSIONS)."""

from __future__ import annotations

from django.db import migrations

from cpm.roles import roles_sync_migration


class Migration(migrations.Migration):
    dependencies = [
        ("cpm", "0001_roles"),
        ("guidance", "0001_initial"),
    ]

    operations = [migrations.RunPython(roles_sync_migration, migrations.RunPython.noop)]
