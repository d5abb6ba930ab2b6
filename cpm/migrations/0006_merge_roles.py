"""Join the privacy-and-merge roles with the others and sync the roles once more."""

from __future__ import annotations

from django.db import migrations

from cpm.roles import roles_sync_migration


class Migration(migrations.Migration):
    dependencies = [
        ("cpm", "0005_merge_roles"),
        ("cpm", "0004_roles_customer_privacy_merge"),
    ]

    operations = [migrations.RunPython(roles_sync_migration, migrations.RunPython.noop)]
