"""Give the roles the permissions of the case life cycle, teams, case types and SLA catalogues."""

from __future__ import annotations

from django.db import migrations


def roles_sync(apps, schema_editor):
    from cpm.roles import roles_sync as sync

    sync(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("cpm", "0001_roles"),
        ("cases", "0003_sla_policies_calendars"),
    ]

    operations = [migrations.RunPython(roles_sync, migrations.RunPython.noop)]
