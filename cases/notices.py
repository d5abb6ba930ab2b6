"""Which case states the customer is told about (`StatusNotice`), kept in memory per process.

Every customer-visible transition asks this; the answer changes only when an admin edits
the status notifications, so it is read once and kept in a `cases.memo.Memo` (dropped on
every change in this process and on its commit; other processes within
`NOTICE_STATES_TTL` seconds).
"""

from __future__ import annotations

from cases.memo import Memo
from cases.models import StatusNotice

NOTICE_STATES_TTL = 30.0

Pairs = frozenset[tuple[int | None, str]]


def notice_pairs_load() -> Pairs:
    """(case type id or None for every type, state) of each status notification."""
    return frozenset(StatusNotice.objects.values_list("case_type_id", "state"))


NOTICES: Memo[Pairs] = Memo("notices", notice_pairs_load, ttl=NOTICE_STATES_TTL)


def notice_visible(*, case_type_id: int | None, state: str) -> bool:
    """Whether a case of this type reaching `state` tells its customer."""
    pairs = NOTICES.get()
    return (None, state) in pairs or (case_type_id is not None and (case_type_id, state) in pairs)


def notice_states_forget() -> None:
    NOTICES.forget()


def notice_signals_connect() -> None:
    NOTICES.connect(StatusNotice)
