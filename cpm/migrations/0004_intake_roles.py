"""Roles for intake: agents read the inbox; admins manage channel keys and intake rules."""

from __future__ import annotations

from django.db import migrations


def roles_sync(apps, schema_editor):
    from cpm.roles import roles_sync as sync

    sync(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("cpm", "0003_merge_roles"),
        ("cases", "0010_general_inquiry_case_type"),
    ]

    operations = [migrations.RunPython(roles_sync, migrations.RunPython.noop)]
