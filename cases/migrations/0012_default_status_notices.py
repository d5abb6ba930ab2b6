"""Customers are told, for every case type, when their case waits for them, is escalated
or is resolved (admins change this under Status notifications)."""

from __future__ import annotations

from django.db import migrations

STATES = ["waiting_customer", "escalated", "resolved"]


def notices(apps, schema_editor):
    notice = apps.get_model("cases", "StatusNotice")
    for state in STATES:
        notice.objects.get_or_create(case_type=None, state=state)


class Migration(migrations.Migration):
    dependencies = [("cases", "0011_outbox_notifications")]

    operations = [migrations.RunPython(notices, migrations.RunPython.noop)]
