"""Supervisors and admins may change a customer's segment and status
(customers.change_customer_segment); agents may not."""

from __future__ import annotations

from django.db import migrations

from cpm.roles import roles_sync_migration


class Migration(migrations.Migration):
    dependencies = [
        ("cpm", "0009_merge_roles"),
        ("customers", "0005_customer_segment_status_permission"),
    ]

    operations = [migrations.RunPython(roles_sync_migration, migrations.RunPython.noop)]
