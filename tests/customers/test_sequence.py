"""Named sequences for business keys: ascending numbers, a new sequence starts at one; on
PostgreSQL drawn from database sequences, so drawing never waits for another transaction."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, transaction

from customers.models import Sequence
from customers.services import sequence_next, sequence_numbers

pytestmark = pytest.mark.django_db


def test_a_new_sequence_starts_at_one_and_counts_on() -> None:
    assert sequence_next(name="bench-a") == 1
    assert sequence_next(name="bench-a") == 2
    assert sequence_next(name="bench-b") == 1


def test_a_block_is_the_next_numbers_in_ascending_order() -> None:
    assert sequence_numbers(name="block", count=10) == list(range(1, 11))
    assert sequence_numbers(name="block", count=5) == list(range(11, 16))
    assert sequence_next(name="block") == 16


def test_drawing_numbers_is_one_statement(django_assert_num_queries) -> None:
    sequence_next(name="once")
    with django_assert_num_queries(1):
        assert sequence_numbers(name="once", count=3) == [2, 3, 4]


@pytest.mark.skipif(connection.vendor == "postgresql", reason="PostgreSQL has no counter")
def test_on_sqlite_the_counter_row_holds_the_last_number() -> None:
    sequence_numbers(name="row", count=7)
    assert Sequence.objects.get(name="row").last == 7


@pytest.mark.postgres
def test_a_database_sequence_starts_after_the_counter_rows_last_number() -> None:
    """Numbers drawn from the counter row before the database sequences came are never
    drawn again."""
    Sequence.objects.create(name="case-1999", last=41)
    assert sequence_numbers(name="case-1999", count=2) == [42, 43]


@pytest.fixture
def fresh_name() -> Iterator[str]:
    """A sequence name of its own (committed database sequences outlive the test), dropped
    afterwards."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SEQUENCE IF EXISTS cpm_seq_{name.replace('-', '_')}")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_drawing_never_waits_for_a_transaction_that_drew_before(fresh_name: str) -> None:
    """A transaction that numbered a new case and has not committed yet does not hold up
    the next one (the counter row's UPDATE did, until the first committed); a number of a
    transaction that rolls back is skipped, never drawn twice."""
    sequence_next(name=fresh_name)  # the sequence exists
    drew, release = threading.Event(), threading.Event()
    first: list[int] = []

    def holding() -> None:
        try:
            with transaction.atomic():
                first.append(sequence_next(name=fresh_name))
                drew.set()
                release.wait(10)
                transaction.set_rollback(True)
        finally:
            connection.close()

    holder = threading.Thread(target=holding)
    holder.start()
    try:
        assert drew.wait(10)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '1s'")
            second = sequence_next(name=fresh_name)
    finally:
        release.set()
        holder.join()
    assert first == [2] and second == 3
    assert sequence_next(name=fresh_name) == 4


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_first_draws_of_a_new_sequence_at_the_same_moment_all_succeed(
    fresh_name: str,
) -> None:
    """Eight transactions draw from a sequence nobody has drawn from yet: one makes it,
    none fails, every number is drawn once."""
    start = threading.Barrier(8)

    def draw(_n: int) -> list[int]:
        try:
            start.wait(10)
            with transaction.atomic():
                return sequence_numbers(name=fresh_name, count=5)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        blocks = list(pool.map(draw, range(8)))
    numbers = sorted(n for block in blocks for n in block)
    assert numbers == list(range(1, 41))
