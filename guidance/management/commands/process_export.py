from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from guidance.models import ProcessVersion
from guidance.process import spec_load, spec_to_yaml


class Command(BaseCommand):
    help = "Print a process version as YAML (the published one unless --number is given)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("key")
        parser.add_argument("--number", type=int, help="The version number.")

    def handle(self, *args: object, key: str, number: int | None, **options: object) -> None:
        versions = ProcessVersion.objects.filter(definition__key=key)
        version = versions.filter(number=number).first() if number else versions.published().first()
        if version is None:
            raise CommandError(f"No such process version: {key} {number or '(published)'}")
        self.stdout.write(spec_to_yaml(spec_load(version)), ending="")
