from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from cases.lifecycle import DOC_PATH, lifecycle_markdown


class Command(BaseCommand):
    help = "Write docs/case-lifecycle.md from the transitions declared on Case."

    def handle(self, *args: object, **options: object) -> None:
        path = Path(settings.BASE_DIR) / DOC_PATH
        path.write_text(lifecycle_markdown())
        self.stdout.write(f"Wrote {path}")
