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
        "(behind your mail server; STARTTLS and a login when CPM_SMTP_TLS_CERT/_KEY and "
        "CPM_SMTP_USER/_PASSWORD are set)."
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
        try:
            controller = smtp_controller(host=host, port=port)
        except (OSError, ValueError) as error:  # a certificate missing, a login half-set
            raise CommandError(f"SMTP intake is not configured right: {error}") from None
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
