"""`cpm.rows`: intake's inserts and reads without the ORM's per-value work write and read
exactly what `bulk_create` and the ORM would, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from cases.models import Case, CaseEvent, CaseEventKind, CaseState, InboundMessage
from cpm import rows
from cpm.rows import columns, history_insert, placeholders, rows_insert, rows_read
from customers.models import Customer
from tests.factories import CaseFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def test_inserted_rows_get_their_keys_and_read_back_as_written() -> None:
    at = timezone.now() - timedelta(minutes=5)
    messages = [
        InboundMessage(
            channel="sms",
            external_id=f"rows-{n}",
            payload={"from": "+4917012345678", "body": f"<b>{n}</b> ü", "meta": {"n": [n]}},
            received_at=at,
        )
        for n in range(3)
    ]

    saved = rows_insert(InboundMessage, messages)

    assert saved == messages
    assert all(m.pk and not m._state.adding for m in messages)
    assert len({m.pk for m in messages}) == 3
    stored = InboundMessage.objects.get(pk=messages[2].pk)
    assert stored.payload == {"from": "+4917012345678", "body": "<b>2</b> ü", "meta": {"n": [2]}}
    assert stored.received_at == at
    assert stored.status == messages[2].status  # the model's default, as bulk_create writes it
    assert stored.reason_params == {}


def test_a_related_object_saved_after_it_was_assigned_gives_its_key() -> None:
    customer = Customer(number="K-990001", name="Later Saved")
    case = Case(customer=customer, subject="Assigned before the customer had a key")
    case.reference = "C-2026-990001"

    rows_insert(Customer, [customer])
    rows_insert(Case, [case])

    assert Case.objects.get(pk=case.pk).customer_id == customer.pk


def test_an_unsaved_related_object_is_refused_and_nothing_is_written() -> None:
    case = Case(customer=Customer(number="K-990002", name="Never Saved"), subject="x")
    case.reference = "C-2026-990002"

    with pytest.raises(ValueError):
        rows_insert(Case, [case])

    assert not Case.objects.filter(reference="C-2026-990002").exists()


def test_more_rows_than_one_statement_takes_are_split(monkeypatch) -> None:
    monkeypatch.setattr(rows, "MAX_PARAMETERS", 40)  # a few rows of a dozen columns each
    case = CaseFactory()
    events = [
        CaseEvent(case=case, customer_id=case.customer_id, kind=CaseEventKind.NOTE, reason=str(n))
        for n in range(10)
    ]

    rows_insert(CaseEvent, events)

    stored = CaseEvent.objects.filter(case=case, kind=CaseEventKind.NOTE).order_by("pk")
    assert [e.reason for e in stored] == [str(n) for n in range(10)]
    assert [e.pk for e in events] == [e.pk for e in stored]


def test_rows_read_gives_instances_as_the_orm_does_and_the_rest_of_each_row() -> None:
    customer = CustomerFactory(date_of_birth=date(1970, 5, 17), consent_marketing=True)
    case = CaseFactory(customer=customer, state=CaseState.OPEN)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns(Customer, 'c')}, 'extra', 7 FROM {Customer._meta.db_table} c "
            f"WHERE c.id IN ({placeholders([customer.pk])})",
            [customer.pk],
        )
        [(read, rest)] = rows_read(Customer, cursor.fetchall())
        cursor.execute(f"SELECT {columns(Case, 'x')} FROM {Case._meta.db_table} x")
        [(read_case, _)] = rows_read(Case, cursor.fetchall())

    orm = Customer.objects.get(pk=customer.pk)
    assert rest == ("extra", 7)
    assert {f.attname: getattr(read, f.attname) for f in Customer._meta.concrete_fields} == {
        f.attname: getattr(orm, f.attname) for f in Customer._meta.concrete_fields
    }
    assert read.date_of_birth == date(1970, 5, 17) and read.consent_marketing is True
    assert read_case.created_at == Case.objects.get(pk=case.pk).created_at
    assert not read._state.adding


def test_history_rows_are_copies_of_the_new_rows() -> None:
    customer = CustomerFactory()
    cases = [
        Case(customer=customer, subject=f"Case {n}", reference=f"C-2026-99100{n}") for n in range(2)
    ]
    rows_insert(Case, cases)
    at = timezone.now()

    history_insert(Case, cases, at=at)

    for case in cases:
        [entry] = Case.history.filter(id=case.pk)
        assert (entry.history_type, entry.history_date, entry.history_user_id) == ("+", at, None)
        assert (entry.reference, entry.subject, entry.state) == (
            case.reference,
            case.subject,
            case.state,
        )
        assert entry.customer_id == customer.pk


def test_placeholders_are_numbered_as_postgresql_numbers_them() -> None:
    assert (
        rows.numbered("SELECT %s, %s FROM t WHERE a IN (%s)")
        == "SELECT $1, $2 FROM t WHERE a IN ($3)"
    )
    assert rows.numbered("SELECT 1") == "SELECT 1"
    with pytest.raises(ValueError):
        rows.numbered("SELECT 1 WHERE a LIKE 'x%%' AND b = %s")


def test_a_duplicate_row_fails_as_django_reports_it_and_the_statement_is_seen() -> None:
    """Intake falls back to the careful way on Django's IntegrityError, and tests and the
    benchmark count statements with execute wrappers: the numbered path (PostgreSQL, no
    query log) keeps both."""
    from django.db import IntegrityError, transaction

    first = InboundMessage(channel="sms", external_id="rows-twice", payload={})
    rows_insert(InboundMessage, [first])
    seen: list[str] = []

    def record(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        seen.append(sql)
        return execute(sql, params, many, context)

    again = InboundMessage(channel="sms", external_id="rows-twice", payload={})
    with connection.execute_wrapper(record), pytest.raises(IntegrityError), transaction.atomic():
        rows_insert(InboundMessage, [again])

    inserts = [sql for sql in seen if sql.startswith('INSERT INTO "cases_inboundmessage"')]
    assert len(inserts) == 1
    assert ("$1" in inserts[0]) == (connection.vendor == "postgresql")
    assert InboundMessage.objects.filter(external_id="rows-twice").count() == 1


def test_statements_are_counted_where_django_logs_queries(django_assert_num_queries) -> None:
    case = CaseFactory()
    with django_assert_num_queries(1) as captured:
        rows_insert(CaseEvent, [CaseEvent(case=case, customer_id=case.customer_id, kind="note")])
    assert "'note'" in captured.captured_queries[0]["sql"]  # as Django logs it: with its values


def test_rows_execute_returns_the_rows_of_a_select_and_none_of_a_write() -> None:
    customer = CustomerFactory()
    table = Customer._meta.db_table
    assert rows.rows_execute(f"SELECT id FROM {table} WHERE id IN (%s, %s)", [customer.pk, 0]) == [
        (customer.pk,)
    ]
    assert (
        rows.rows_execute(f"UPDATE {table} SET name = %s WHERE id = %s", ["X", customer.pk]) == []
    )
    customer.refresh_from_db()
    assert customer.name == "X"


def test_queries_together_give_each_its_own_answer_in_one_pipeline() -> None:
    """`rows_together`: each query's rows go to its own reader, in order; a query without a
    statement asks nothing; on PostgreSQL the statements run in psycopg's pipeline mode."""
    from django.db import transaction

    anna, ben = CustomerFactory(name="Anna"), CustomerFactory(name="Ben")
    table = Customer._meta.db_table
    pipelined: list[bool] = []

    def record(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        if sql.startswith("SELECT"):
            raw = context["connection"].connection
            pipelined.append(getattr(raw, "_pipeline", None) is not None)
        return execute(sql, params, many, context)

    names = rows.Query(
        f"SELECT name FROM {table} WHERE id IN (%s, %s) ORDER BY name", [anna.pk, ben.pk], list
    )
    count = rows.Query(f"SELECT COUNT(*) FROM {table} WHERE id = %s", [ben.pk], lambda r: r[0][0])
    nothing = rows.Query("", [], lambda r: ("asked nothing", r))
    with connection.execute_wrapper(record), transaction.atomic():
        answers = rows.rows_together(names, nothing, count)

    assert answers == [[("Anna",), ("Ben",)], ("asked nothing", []), 1]
    assert pipelined == [connection.vendor == "postgresql"] * 2
    assert rows.rows_together(nothing) == [("asked nothing", [])]


def test_a_failing_query_together_fails_as_django_reports_it() -> None:
    """An error comes back with the answers, at the end of the pipeline, as Django's error;
    the transaction is rolled back and the connection goes on."""
    from django.db import DatabaseError, transaction

    good = rows.Query("SELECT 1", [], list)
    bad = rows.Query("SELECT * FROM no_such_table WHERE id = %s", [1], list)
    with pytest.raises(DatabaseError), transaction.atomic():
        rows.rows_together(good, bad)
    assert rows.rows_together(good) == [[(1,)]]
