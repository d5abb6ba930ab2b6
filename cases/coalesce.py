"""Group commit for intake: messages that arrive at the same time go through one transaction.

A gateway posts one message per request, often many at once. Each request on its own costs
a transaction with a dozen statements; the same work for ten messages together costs the
same dozen statements (`intake.inbound_receive_many` reads and writes a set of messages with
one statement per kind of fact and row). So the requests a process is serving at the same
moment are coalesced, as a database does with commits:

- a request hands its message in and, when nobody is at work for its group (channel and
  key), becomes the leader: it takes every message waiting at that moment and processes
  them together, then answers each waiting request with its own result;
- requests that arrive while a leader is at work wait; when the leader is done, the first
  of them leads the next group of everything that arrived meanwhile.

Nothing waits on purpose: alone, a request is processed at once (a group of one); under
load the groups grow by themselves. Each message still gets its own answer, and
`inbound_receive_many` keeps every guarantee per message (idempotent on its id, stored
first when anything fails). It only groups requests served by threads of one process
(gunicorn's gthread workers, the development server); a sync worker serves one at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

GROUP_MAX = 100  # messages per transaction, as in a batch request


@dataclass(eq=False)
class Slot:
    """One waiting message and, once processed, its result (or the error it raised)."""

    item: Any
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    processed: bool = False
    result: Any = None
    error: BaseException | None = None


class Coalescer:
    """Runs `process(items) -> results` (in order) for the items handed in at the same time."""

    def __init__(self, process: Callable[[Hashable, list[Any]], list[Any]]) -> None:
        self._process = process
        self._lock = threading.Lock()
        self._waiting: dict[Hashable, list[Slot]] = {}
        self._busy: set[Hashable] = set()

    def waiting(self, group: Hashable) -> int:
        """How many items of `group` wait for the next leader."""
        with self._lock:
            return len(self._waiting.get(group, []))

    def submit(self, group: Hashable, item: Any) -> Any:
        slot = Slot(item)
        with self._lock:
            self._waiting.setdefault(group, []).append(slot)
            slot.lead = group not in self._busy
            self._busy.add(group)
        if not slot.lead:
            slot.done.wait()  # processed, or handed the lead
        if not slot.processed:
            self._lead(group)
        if slot.error is not None:
            raise slot.error
        return slot.result

    def _lead(self, group: Hashable) -> None:
        """Process what waits now, then hand the lead to the first that came meanwhile."""
        with self._lock:
            waiting = self._waiting.get(group, [])
            slots, rest = waiting[:GROUP_MAX], waiting[GROUP_MAX:]
            self._waiting[group] = rest
        try:
            results = self._process(group, [slot.item for slot in slots])
        except BaseException as error:  # every waiting request learns of it
            for slot in slots:
                slot.error = error
        else:
            for slot, result in zip(slots, results, strict=True):
                slot.result = result
        for slot in slots:
            slot.processed = True
        with self._lock:
            rest = self._waiting.get(group, [])
            if rest:
                rest[0].lead = True
                rest[0].done.set()  # wakes up as the next leader
            else:
                self._waiting.pop(group, None)
                self._busy.discard(group)
        for slot in slots:
            slot.done.set()
