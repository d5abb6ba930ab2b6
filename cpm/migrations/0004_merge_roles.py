"""Join the process-editor role migration with the others and sync the roles once more."""

from __future__ import annotations

from django.db import migrations

from cpm.roles import roles_sync_migration


class Migration(migrations.Migration):
    dependencies = [
        ("cpm", "0003_merge_roles"),
        ("cpm", "0002_process_editor_role"),
        ("cases", "0008_merge_links_process"),
    ]

    operations = [migrations.RunPython(roles_sync_migration, migrations.RunPython.noop)]
