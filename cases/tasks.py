"""django-q2 entry points: thin, idempotent, they call a service."""

from __future__ import annotations

from django.utils import timezone

from cases import offers, outbox, services


def check_sla() -> dict[str, int]:
    """Scheduled every minute (migration cases 0005): warn and mark breaches."""
    return services.sla_check(now=timezone.now())


def deliver_outbound(pk: int) -> str:
    """Deliver one outbox message (enqueued after commit, retried by schedule)."""
    return outbox.outbound_deliver(pk=pk).status


def deliver_outbound_many(pks: list[int]) -> list[str]:
    """Deliver several outbox messages (intake's acknowledgements), each on its own (one
    that fails is retried by itself), the e-mails over one connection to the mail server."""
    with outbox.MailSession() as mail:
        return [outbox.outbound_deliver(pk=pk, mail=mail).status for pk in pks]


def perform_offer_action(pk: int) -> str:
    """Do an accepted offer's back-office action (enqueued after commit; idempotent)."""
    return offers.offer_action_perform(pk=pk)
