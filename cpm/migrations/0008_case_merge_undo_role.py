"""Supervisors and admins may undo a case merge (cases.undo_casemerge)."""

from __future__ import annotations

from django.db import migrations

from cpm.roles import roles_sync_migration


class Migration(migrations.Migration):
    dependencies = [
        ("cpm", "0007_merge_roles"),
        ("cases", "0015_case_merge"),
    ]

    operations = [migrations.RunPython(roles_sync_migration, migrations.RunPython.noop)]
