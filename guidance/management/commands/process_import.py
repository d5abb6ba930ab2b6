from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from guidance.process import ProcessFormatError
from guidance.services import ProcessError, process_import


class Command(BaseCommand):
    help = "Import process definitions from YAML files as drafts (or published with --publish)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path)
        parser.add_argument("--publish", action="store_true", help="Publish each imported draft.")

    def handle(self, *args: object, paths: list[Path], publish: bool, **options: object) -> None:
        for path in paths:
            try:
                version = process_import(text=path.read_text(), by=None, publish=publish)
            except (OSError, ProcessFormatError) as error:
                raise CommandError(f"{path}: {error}") from None
            except ProcessError as error:
                raise CommandError(f"{path}: {error} {'; '.join(error.problems)}") from None
            self.stdout.write(f"{path}: {version}")
