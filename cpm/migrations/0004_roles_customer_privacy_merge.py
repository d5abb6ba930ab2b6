"""Supervisors and admins may export, erase and merge customers (new permissions)."""

from __future__ import annotations

from django.db import migrations


def roles_sync(apps, schema_editor):
    from cpm.roles import roles_sync as sync

    sync(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("cpm", "0003_merge_roles"),
        ("customers", "0003_privacy_merge"),
    ]

    operations = [migrations.RunPython(roles_sync, migrations.RunPython.noop)]
