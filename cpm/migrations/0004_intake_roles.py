"""Roles for intake: agents read the inbox and outbox; admins manage channel keys, intake
rules and status notifications."""

from __future__ import annotations

from django.db import migrations


def roles_sync(apps, schema_editor):
    from cpm.roles import roles_sync as sync

    sync(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("cpm", "0003_merge_roles"),
        ("cases", "0012_default_status_notices"),
    ]

    operations = [migrations.RunPython(roles_sync, migrations.RunPython.noop)]
