"""Join the intake roles with the others and sync the roles once more."""

from __future__ import annotations

from django.db import migrations

from cpm.roles import roles_sync_migration


class Migration(migrations.Migration):
    dependencies = [
        ("cpm", "0004_intake_roles"),
        ("cpm", "0004_merge_roles"),
        ("cases", "0013_merge_intake_queue_index"),
    ]

    operations = [migrations.RunPython(roles_sync_migration, migrations.RunPython.noop)]
