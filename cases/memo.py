"""Configuration kept in memory per process: read from the database once, dropped on change.

Intake, transitions and new cases consult configuration that admins change rarely (status
notifications, intake rules, SLA policies and their calendars). A `Memo` reads it once and
keeps it:

- a save or delete of one of its models (admin, shell, cascade) drops it at once in this
  process, and again when that change commits, so a request running beside the admin's
  transaction cannot keep what was there before;
- inside the transaction that changed it, the value is read without keeping it (a rollback
  leaves nothing behind that never existed);
- other processes (more gunicorn workers, the django-q2 cluster) learn of a change at most
  `ttl` seconds later, as do writes that send no signal (`QuerySet.update`, `bulk_create`,
  data migrations).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import Model

T = TypeVar("T")

MEMOS: list[Memo] = []


class Memo(Generic[T]):
    def __init__(self, name: str, load: Callable[[], T], *, ttl: float = 30.0) -> None:
        self.name, self.load, self.ttl = name, load, ttl
        self._lock = threading.Lock()
        self._cached: tuple[float, T] | None = None
        self._generation = 0
        self._pending = threading.local()  # per thread, like Django's connections
        MEMOS.append(self)

    def get(self) -> T:
        if self.uncommitted_change():
            return self.load()
        cached = self._cached
        if cached is not None and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        generation = self._generation
        value = self.load()
        with self._lock:
            if generation == self._generation:  # no change arrived while we read
                self._cached = (time.monotonic(), value)
        return value

    def keep(self, value: T) -> None:
        """Keep `value` as if it had just been read (what another thread read meanwhile)."""
        with self._lock:
            self._cached = (time.monotonic(), value)

    def forget(self) -> None:
        with self._lock:
            self._cached = None
            self._generation += 1

    def uncommitted_change(self) -> bool:
        """Whether this thread's open transaction changed what this memo keeps."""
        committed = getattr(self._pending, "committed", None)
        if committed is None:
            return False
        connection = transaction.get_connection(self._pending.using)
        if any(hook[1] is committed for hook in connection.run_on_commit):
            return True
        self._pending.committed = None  # its transaction ended: committed (it ran) or rolled back
        return False

    def changed(self, *, using: str = DEFAULT_DB_ALIAS, **_signal: Any) -> None:
        """`post_save`/`post_delete` of one of the models it is read from."""
        self.forget()
        if not transaction.get_connection(using).in_atomic_block:
            return

        def committed() -> None:
            self._pending.committed = None
            self.forget()

        self._pending.committed, self._pending.using = committed, using
        transaction.on_commit(committed, using=using)

    def connect(self, *models: type[Model]) -> None:
        """Drop the memo whenever a row of these models is saved or deleted."""
        from django.db.models.signals import post_delete, post_save

        for model in models:
            label = f"{self.name}-{model._meta.label}"
            post_save.connect(self.changed, sender=model, weak=False, dispatch_uid=f"{label}-save")
            post_delete.connect(self.changed, sender=model, weak=False, dispatch_uid=f"{label}-del")


def memos_forget() -> None:
    """Drop every memo (tests: a transactional test's flush sends no signal)."""
    for memo in MEMOS:
        memo.forget()
