"""The case type a new inbound message opens when no intake rule matches."""

from __future__ import annotations

from django.db import migrations


def general_inquiry(apps, schema_editor):
    case_type = apps.get_model("cases", "CaseType")
    if not case_type.objects.filter(name_en__iexact="General inquiry").exists():
        case_type.objects.create(name_en="General inquiry", name_de="Allgemeine Anfrage")


class Migration(migrations.Migration):
    dependencies = [("cases", "0009_intake")]

    operations = [migrations.RunPython(general_inquiry, migrations.RunPython.noop)]
