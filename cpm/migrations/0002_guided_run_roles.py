"""Give the roles the guided-run permissions (cpm.roles)."""

from __future__ import annotations

from django.db import migrations


def roles_sync(apps, schema_editor):
    from cpm.roles import roles_sync as sync

    sync(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("cpm", "0001_roles"),
        ("cases", "0002_guided_runs"),
    ]

    operations = [migrations.RunPython(roles_sync, migrations.RunPython.noop)]
