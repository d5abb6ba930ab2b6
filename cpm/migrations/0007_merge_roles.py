"""Join the offer roles with the others and sync the roles once every model exists."""

from __future__ import annotations

from django.db import migrations

from cpm.roles import roles_sync_migration


class Migration(migrations.Migration):
    dependencies = [
        ("cpm", "0006_merge_roles"),
        ("cpm", "0004_offer_roles"),
        ("cases", "0014_merge_offers"),
    ]

    operations = [migrations.RunPython(roles_sync_migration, migrations.RunPython.noop)]
