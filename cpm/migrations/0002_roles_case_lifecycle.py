"""Give the roles the permissions of the case life cycle, teams, case types and SLA catalogues."""

from __future__ import annotations

from django.db import migrations

from cpm.roles import roles_sync_migration


class Migration(migrations.Migration):
    dependencies = [
        ("cpm", "0001_roles"),
        ("cases", "0003_sla_policies_calendars"),
    ]

    operations = [migrations.RunPython(roles_sync_migration, migrations.RunPython.noop)]
