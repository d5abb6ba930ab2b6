"""Give the roles the permissions of the full case life cycle, teams and case types."""

from __future__ import annotations

from django.db import migrations


def roles_sync(apps, schema_editor):
    from cpm.roles import roles_sync as sync

    sync(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("cpm", "0001_roles"),
        ("cases", "0002_lifecycle_teams_types"),
    ]

    operations = [migrations.RunPython(roles_sync, migrations.RunPython.noop)]
