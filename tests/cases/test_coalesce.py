"""Group commit: requests handed in at the same time are processed together, each answered
with its own result (`cases.coalesce`); real threads, no mocks."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from cases.coalesce import Coalescer


def wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_alone_a_request_is_processed_at_once_as_a_group_of_one() -> None:
    groups: list[list[int]] = []
    coalescer = Coalescer(lambda group, items: groups.append(items) or [i * 2 for i in items])
    assert [coalescer.submit("sms", n) for n in range(3)] == [0, 2, 4]
    assert groups == [[0], [1], [2]]


def test_what_arrives_while_a_group_is_processed_goes_together_in_the_next() -> None:
    release = threading.Event()
    groups: list[list[int]] = []

    def process(group: str, items: list[int]) -> list[str]:
        groups.append(items)
        if len(groups) == 1:
            release.wait(5)  # the first group holds on until the others are waiting
        return [f"{group}:{item}" for item in items]

    coalescer = Coalescer(process)
    with ThreadPoolExecutor(max_workers=20) as pool:
        first = pool.submit(coalescer.submit, "sms", 0)
        wait_until(lambda: len(groups) == 1)
        rest = [pool.submit(coalescer.submit, "sms", n) for n in range(1, 20)]
        wait_until(lambda: coalescer.waiting("sms") == 19)
        release.set()
        answers = [first.result(5), *(future.result(5) for future in rest)]
    assert answers == [f"sms:{n}" for n in range(20)]  # each its own result
    assert groups[0] == [0]
    assert sorted(groups[1]) == list(range(1, 20))  # one group for all that waited
    assert coalescer.waiting("sms") == 0


def test_groups_are_kept_apart() -> None:
    seen: list[tuple[str, list[int]]] = []
    coalescer = Coalescer(lambda group, items: seen.append((group, items)) or items)
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(coalescer.submit, ("sms", "email")[n % 2], n) for n in range(40)]
        assert [f.result(5) for f in futures] == list(range(40))
    for group, items in seen:
        assert all(("sms", "email")[n % 2] == group for n in items)


def test_a_failure_reaches_every_request_of_its_group_and_the_next_group_goes_on() -> None:
    calls = []

    def process(group: str, items: list[int]) -> list[int]:
        calls.append(items)
        if 13 in items:
            raise RuntimeError("database gone")
        return items

    coalescer = Coalescer(process)
    with pytest.raises(RuntimeError, match="database gone"):
        coalescer.submit("sms", 13)
    assert coalescer.submit("sms", 14) == 14
    assert coalescer.waiting("sms") == 0
