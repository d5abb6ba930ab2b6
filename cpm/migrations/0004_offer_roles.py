"""Give the roles the offer permissions (cpm.roles)."""

from __future__ import annotations

from django.db import migrations

from cpm.roles import roles_sync_migration


class Migration(migrations.Migration):
    dependencies = [
        ("cpm", "0003_merge_roles"),
        ("cases", "0009_offer_outcomes"),
        ("guidance", "0002_offers"),
    ]

    operations = [migrations.RunPython(roles_sync_migration, migrations.RunPython.noop)]
