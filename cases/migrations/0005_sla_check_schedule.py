"""Schedule the SLA check every minute on the django-q2 cluster."""

from django.db import migrations
from django.utils import timezone

NAME = "cases.check_sla"


def schedule_create(apps, schema_editor):
    schedule = apps.get_model("django_q", "Schedule")
    schedule.objects.update_or_create(
        name=NAME,
        defaults={
            "func": "cases.tasks.check_sla",
            "schedule_type": "I",  # minutes
            "minutes": 1,
            "repeats": -1,
            "next_run": timezone.now(),
        },
    )


def schedule_delete(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0004_sla_clocks"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(schedule_create, schedule_delete)]
