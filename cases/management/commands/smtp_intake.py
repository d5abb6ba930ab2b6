"""`python manage.py smtp_intake --port 2525`: receive e-mail by SMTP into intake."""

from __future__ import annotations

import signal
import threading
from types import FrameType

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cases.smtp import smtp_controller


class Command(BaseCommand):
    help = (
        "Run an SMTP server that stores every received mail as an inbound e-mail "
        "(behind your mail server; no TLS or authentication of its own)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on.")
        parser.add_argument("--port", type=int, default=2525, help="Port to listen on.")

    def handle(self, *args: object, host: str, port: int, **options: object) -> None:
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        controller = smtp_controller(host=host, port=port)
        try:
            controller.start()
        except (OSError, RuntimeError) as error:
            raise CommandError(f"Cannot listen on {host}:{port}: {error}") from None
        self.stdout.write(f"SMTP intake listening on {host}:{port}", ending="\n")
        self.stdout.flush()
        try:
            stop.wait()
        finally:
            controller.stop()
        self.stdout.write("SMTP intake stopped.")
