from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from cpm.demo import (
    DEMO_USERS,
    demo_guided_runs_ensure,
    demo_processes_ensure,
    demo_reply_templates_ensure,
    demo_users_ensure,
    seed_demo,
)
from cpm.demo_offers import demo_offer_history_ensure, demo_offers_ensure
from cpm.roles import Role


class Command(BaseCommand):
    help = "Create demo users and demo customers with contacts and cases (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--customers",
            type=int,
            default=300,
            help="How many demo customers there should be in all (default 300).",
        )

    def handle(self, *args: object, customers: int, **options: object) -> None:
        if customers < 0:
            self.stderr.write("--customers must not be negative")
            raise SystemExit(2)
        users = demo_users_ensure(with_password=settings.DEBUG)
        processes = demo_processes_ensure()
        if processes:
            self.stdout.write(f"Demo processes published: {', '.join(processes)}")
        agents = [users[name] for name, *_, role in DEMO_USERS if role is Role.AGENT]
        with tqdm(total=customers, unit="customer", disable=None, file=self.stderr) as bar:
            created = seed_demo(customers=customers, agents=agents, progress=bar.update)
        runs = demo_guided_runs_ensure(agents=agents)
        self.stdout.write(f"Demo data ready: {created} customers created, {customers} wanted.")
        if runs:
            self.stdout.write(f"Guided processes started on {runs} demo cases.")
        templates = demo_reply_templates_ensure()
        if templates:
            self.stdout.write(f"Demo reply templates: {templates} created.")
        offers = demo_offers_ensure()
        outcomes = demo_offer_history_ensure()
        if offers or outcomes:
            self.stdout.write(f"Demo offers: {len(offers)} created, {outcomes} outcomes recorded.")
        if settings.DEBUG:
            logins = ", ".join(name for name, *_ in DEMO_USERS)
            self.stdout.write(f"Demo logins (password 'demo'): {logins}")
        else:
            self.stdout.write("DEBUG is off: demo users have no usable password.")
