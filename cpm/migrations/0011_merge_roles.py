"""Sync the roles once more after the attachments and the segment permission exist."""

from __future__ import annotations

from django.db import migrations

from cpm.roles import roles_sync_migration


class Migration(migrations.Migration):
    dependencies = [
        ("cpm", "0010_customer_segment_status_role"),
        ("customers", "0006_merge_segment_permission_attachments"),
    ]

    operations = [migrations.RunPython(roles_sync_migration, migrations.RunPython.noop)]
