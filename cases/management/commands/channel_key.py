"""`python manage.py channel_key <channel>`: make a key for a channel's gateway, print it once."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cases.intake import channel_key_create
from cases.models import InboundChannel


class Command(BaseCommand):
    help = "Create an intake API key for a channel and print it (it is stored only hashed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("channel", help=", ".join(InboundChannel.values))
        parser.add_argument("--name", default="", help="Who uses the key (default: the channel).")
        parser.add_argument(
            "--require-signature",
            action="store_true",
            help="Refuse requests without a valid X-CPM-Signature.",
        )

    def handle(
        self, *args: object, channel: str, name: str, require_signature: bool, **options: object
    ) -> None:
        if channel not in InboundChannel.values:
            raise CommandError(
                f"Unknown channel {channel!r}; choose one of {', '.join(InboundChannel.values)}."
            )
        _row, key = channel_key_create(
            channel=channel, name=name or f"{channel} gateway", require_signature=require_signature
        )
        self.stdout.write(key)
