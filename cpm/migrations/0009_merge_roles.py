"""Join the reply-template roles with the case-merge roles and sync the roles once every
model exists."""

from __future__ import annotations

from django.db import migrations

from cpm.roles import roles_sync_migration


class Migration(migrations.Migration):
    dependencies = [
        ("cpm", "0008_case_merge_undo_role"),
        ("cpm", "0008_reply_template_roles"),
        ("cases", "0016_merge_replies_case_merge_offer_actions"),
        ("customers", "0004_customer_events_on_the_timeline"),
        ("guidance", "0003_offer_connector_action"),
    ]

    operations = [migrations.RunPython(roles_sync_migration, migrations.RunPython.noop)]
