"""Group commit for intake: messages that arrive at the same time go through one transaction.

A gateway posts one message per request, often many at once. Each request on its own costs
a transaction with a dozen statements; the same work for ten messages together costs the
same dozen statements (`intake.deliveries_receive` reads and writes a set of messages with
one statement per kind of fact and row). So the requests a process is serving at the same
moment are coalesced, as a database does with commits:

- a request hands its message in and, when nobody is at work for its group, becomes the
  leader: it takes every message waiting at that moment and processes them together, then
  answers each waiting request with its own result;
- requests that arrive while a leader is at work wait; when the leader is done, the first
  of them leads the next group of everything that arrived meanwhile.

A request that comes alone (none in the last `busy` seconds, none on its way) is processed
at once. Under traffic the leader first waits `linger` seconds (3 ms for intake) for the
requests that are about to arrive, as PostgreSQL's `commit_delay` waits when
`commit_siblings` are active: on two cores a message in a group of one costs about 5 ms
of CPU, in a group of four about 3 ms. (`expect()` counts requests on their way from the
moment Django sees them; most of the wait, though, is in the web server before that.)

Each message still gets its own answer, and `intake.deliveries_receive` keeps every
guarantee per message (idempotent on its id, kept when its processing fails). Only
requests served by threads of one process are grouped (gunicorn's gthread workers, the
development server); a sync worker serves one request at a time.
"""

from __future__ import annotations

import threading
import time
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
    traffic: bool = False  # another request came just before it
    processed: bool = False
    result: Any = None
    error: BaseException | None = None


class Coalescer:
    """Runs `process(items) -> results` (in order) for the items handed in at the same time."""

    def __init__(
        self,
        process: Callable[[Hashable, list[Any]], list[Any]],
        *,
        linger: float = 0.0,
        busy: float = 0.02,
    ) -> None:
        self._process = process
        self.linger, self.busy = linger, busy
        self._last_submit = float("-inf")
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._waiting: dict[Hashable, list[Slot]] = {}
        self._busy: set[Hashable] = set()
        self._expected = 0  # requests on their way to `submit`

    def expect(self) -> None:
        """A request is on its way: a leader may wait a moment for it."""
        with self._lock:
            self._expected += 1

    def unexpect(self) -> None:
        """A request that called `expect` will not hand anything in after all."""
        with self._arrived:
            self._expected = max(0, self._expected - 1)
            self._arrived.notify_all()

    def waiting(self, group: Hashable) -> int:
        """How many items of `group` wait for the next leader."""
        with self._lock:
            return len(self._waiting.get(group, []))

    def submit(self, group: Hashable, item: Any, *, expected: bool = False) -> Any:
        """Process `item` with what arrives at the same time; its own result, in order.
        `expected`: this request called `expect` before."""
        slot = Slot(item)
        with self._arrived:
            now = time.monotonic()
            slot.traffic = now - self._last_submit < self.busy
            self._last_submit = now
            self._waiting.setdefault(group, []).append(slot)
            slot.lead = group not in self._busy
            self._busy.add(group)
            if expected:
                self._expected = max(0, self._expected - 1)
            self._arrived.notify_all()
        if not slot.lead:
            slot.done.wait()  # processed, or handed the lead
        if not slot.processed:
            self._lead(group, linger=slot.traffic)
        if slot.error is not None:
            raise slot.error
        return slot.result

    def _lead(self, group: Hashable, *, linger: bool) -> None:
        """Process what waits now (under traffic, after a moment for what is about to
        arrive), then hand the lead to the first that came meanwhile."""
        deadline = time.monotonic() + self.linger
        with self._arrived:
            linger = linger or self._expected > 0
            while linger and len(self._waiting.get(group, [])) < GROUP_MAX:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._arrived.wait(left)
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
