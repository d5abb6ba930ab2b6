"""Create the Agent, Supervisor and Admin groups with the permissions of cpm.roles."""

from __future__ import annotations

from django.db import migrations


def roles_sync(apps, schema_editor):
    from cpm.roles import roles_sync as sync

    sync(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("customers", "0001_initial"),
        ("cases", "0001_initial"),
    ]

    operations = [migrations.RunPython(roles_sync, migrations.RunPython.noop)]
