"""Named sequences for business keys: consecutive numbers, a new sequence starts at one."""

from __future__ import annotations

import pytest

from customers.models import Sequence
from customers.services import sequence_next, sequence_reserve

pytestmark = pytest.mark.django_db


def test_a_new_sequence_starts_at_one_and_counts_on() -> None:
    assert sequence_next(name="bench-a") == 1
    assert sequence_next(name="bench-a") == 2
    assert sequence_next(name="bench-b") == 1
    assert Sequence.objects.get(name="bench-a").last == 2


def test_reserving_a_block_returns_its_first_number() -> None:
    assert sequence_reserve(name="block", count=10) == 1
    assert sequence_reserve(name="block", count=5) == 11
    assert sequence_next(name="block") == 16


def test_drawing_a_number_is_one_statement(django_assert_num_queries) -> None:
    sequence_next(name="once")
    with django_assert_num_queries(1):
        assert sequence_next(name="once") == 2
