"""Create the Agent, Supervisor and Admin groups with the permissions of cpm.roles."""

from __future__ import annotations

from django.db import migrations

from cpm.roles import roles_sync_migration


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("customers", "0001_initial"),
        ("cases", "0001_initial"),
    ]

    operations = [migrations.RunPython(roles_sync_migration, migrations.RunPython.noop)]
