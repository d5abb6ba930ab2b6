"""Which case states the customer is told about (`StatusNotice`), kept in memory per process.

Every customer-visible transition asks this; the answer changes only when an admin edits
the status notifications, so it is read from the database once and kept:

- a save or delete of a `StatusNotice` (admin, shell, cascade from its case type) drops it
  at once in this process, and again when that change commits, so a transition running
  beside the admin's transaction cannot keep what was there before;
- inside the transaction that changed it, the table is read without caching (a rollback
  leaves nothing behind that never existed);
- other processes (more gunicorn workers, the django-q2 cluster) learn of a change at most
  `NOTICE_STATES_TTL` seconds later, as do writes that send no signal (`QuerySet.update`,
  `bulk_create`, data migrations).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from django.db import DEFAULT_DB_ALIAS, transaction

from cases.models import StatusNotice

NOTICE_STATES_TTL = 30.0

Pairs = frozenset[tuple[int | None, str]]

_lock = threading.Lock()
_cached: tuple[float, Pairs] | None = None
_generation = 0
_pending = threading.local()  # per thread, like Django's connections


def notice_pairs_load() -> Pairs:
    """(case type id or None for every type, state) of each status notification."""
    return frozenset(StatusNotice.objects.values_list("case_type_id", "state"))


def notice_pairs() -> Pairs:
    global _cached
    if uncommitted_change():
        return notice_pairs_load()
    cached = _cached
    if cached is not None and time.monotonic() - cached[0] < NOTICE_STATES_TTL:
        return cached[1]
    generation = _generation
    pairs = notice_pairs_load()
    with _lock:
        if generation == _generation:  # no change arrived while we read
            _cached = (time.monotonic(), pairs)
    return pairs


def notice_visible(*, case_type_id: int | None, state: str) -> bool:
    """Whether a case of this type reaching `state` tells its customer."""
    pairs = notice_pairs()
    return (None, state) in pairs or (case_type_id is not None and (case_type_id, state) in pairs)


def notice_states_forget() -> None:
    global _cached, _generation
    with _lock:
        _cached = None
        _generation += 1


def uncommitted_change() -> bool:
    """Whether this thread's open transaction changed the status notifications."""
    committed = getattr(_pending, "committed", None)
    if committed is None:
        return False
    connection = transaction.get_connection(_pending.using)
    if any(hook[1] is committed for hook in connection.run_on_commit):
        return True
    _pending.committed = None  # its transaction ended: committed (it ran) or rolled back
    return False


def on_status_notice_changed(*, using: str = DEFAULT_DB_ALIAS, **_signal: Any) -> None:
    """`post_save`/`post_delete` of `StatusNotice` (connected in `CasesConfig.ready`)."""
    notice_states_forget()
    if not transaction.get_connection(using).in_atomic_block:
        return

    def committed() -> None:
        _pending.committed = None
        notice_states_forget()

    _pending.committed, _pending.using = committed, using
    transaction.on_commit(committed, using=using)


def notice_signals_connect() -> None:
    from django.db.models.signals import post_delete, post_save

    post_save.connect(on_status_notice_changed, sender=StatusNotice, dispatch_uid="notice-save")
    post_delete.connect(on_status_notice_changed, sender=StatusNotice, dispatch_uid="notice-del")
