"""Roles for replies: agents read the reply templates, admins edit them and read who moved
which message."""

from __future__ import annotations

from django.db import migrations

from cpm.roles import roles_sync_migration


class Migration(migrations.Migration):
    dependencies = [
        ("cpm", "0007_merge_roles"),
        ("cases", "0015_reply_templates_and_message_moves"),
    ]

    operations = [migrations.RunPython(roles_sync_migration, migrations.RunPython.noop)]
