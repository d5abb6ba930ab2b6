"""Join the two role migrations and sync the roles once every cases model exists."""

from __future__ import annotations

from django.db import migrations

from cpm.roles import roles_sync_migration


class Migration(migrations.Migration):
    dependencies = [
        ("cpm", "0002_guided_run_roles"),
        ("cpm", "0002_roles_case_lifecycle"),
        ("cases", "0006_merge_guided_runs_sla"),
    ]

    operations = [migrations.RunPython(roles_sync_migration, migrations.RunPython.noop)]
