"""Many new rows of one model in one statement, without the ORM's per-value work.

Intake writes half a dozen kinds of row per message (docs/architecture.md, "Set-based
intake"). `bulk_create` compiles each statement anew (a compiler, every value through its
field's preparation; on PostgreSQL, for more than one row, arrays for `UNNEST`, which
psycopg adapts in Python, element by element). On PostgreSQL, `rows_insert` keeps one
statement text per model and number of rows, reads each column's value with a function
chosen once per field, and binds plain values, which psycopg adapts in C; only values
that need their field's conversion (JSON, any field type not listed in `AS_IS`) go
through it. Elsewhere (SQLite) it is `bulk_create`. `history_insert` copies new rows into
their django-simple-history table inside the database.

On PostgreSQL these statements are numbered once (`$1, $2, …`, `numbered`) and run through
psycopg's `RawCursor` (`rows_execute`): psycopg reads a statement for its `%s` on every
execution unless it has at most 50 parameters, and a batch's inserts have thousands (a
third of the CPU of a batch of 100 messages went there). Where Django logs queries
(`DEBUG`, `django_assert_num_queries`) they run as written through Django's own cursor.

Round trips (PostgreSQL): independent reads are `Query` objects asked together with
`rows_together`; keys are drawn beforehand (`keys_query`) so that rows are inserted without
reading them back; and inside `rows_pipeline` writes go out with the next read, or at the
end (psycopg's pipeline mode). Intake's group of messages waits for the server three or
four times (docs/architecture.md, "Statements that do not wait for each other go
together").

What it keeps of `bulk_create`: defaults and `auto_now` fields as Django sets them, keys of
related objects saved after they were assigned, the primary keys set on the objects from
`RETURNING`, no signals. What it does not do: no `full_clean`, no conflict handling; the
caller checks what a form would.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any, Generic, TypeVar

import psycopg
from django.db import connection
from django.db.models import Field, Model

M = TypeVar("M", bound=Model)
T = TypeVar("T")
MAX_PARAMETERS = 65_535  # PostgreSQL's limit for one statement

# Field types whose Python value psycopg takes as it is (aware datetimes included).
AS_IS = {
    "AutoField",
    "BigAutoField",
    "BigIntegerField",
    "BooleanField",
    "CharField",
    "DateField",
    "DateTimeField",
    "EmailField",
    "ForeignKey",
    "IntegerField",
    "OneToOneField",
    "PositiveBigIntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "SlugField",
    "SmallIntegerField",
    "TextField",
    "UUIDField",
}


@dataclass(frozen=True)
class InsertPlan:
    """A model's insert statement up to `VALUES`, its row of placeholders, and how each
    column's value is read from an instance."""

    head: str
    row: str
    tail: str
    readers: tuple[Callable[[Model], object], ...]


def placeholders(values: Sized) -> str:
    """`%s, %s, …`, one for each value: for `IN (…)` with a parameter per value, which
    psycopg adapts in C (a list bound to `= ANY(%s)` is adapted in Python)."""
    return ", ".join(["%s"] * len(values))


@cache
def columns(model: type[Model], alias: str) -> str:
    """Every column of `model` as `alias.column, …`, in the order `rows_read` takes them."""
    quote = connection.ops.quote_name
    return ", ".join(f"{alias}.{quote(f.column)}" for f in model._meta.concrete_fields)


def rows_read(model: type[M], rows: Iterable[tuple]) -> list[tuple[M, tuple]]:
    """Instances of `model` from rows of plain SQL that start with `columns(model, …)`, each
    with the rest of its row: `Model.from_db` without `RawQuerySet`'s work per statement
    (matching the cursor's column names to fields)."""
    names = field_names(model)
    width = len(names)
    convert = row_converter(model, connection.vendor)
    return [
        (model.from_db(connection.alias, names, convert(row[:width])), row[width:]) for row in rows
    ]


@cache
def row_converter(model: type[Model], _vendor: str) -> Callable[[tuple], tuple]:
    """What the ORM does to the values a cursor returns before they become an instance's
    (the backend's and the fields' converters: JSON text, SQLite's dates and booleans),
    for the fields that have any."""
    steps = []
    for index, field in enumerate(model._meta.concrete_fields):
        column = field.get_col(model._meta.db_table)
        found = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
        if found:
            steps.append((index, found, column))
    if not steps:
        return tuple

    def convert(values: tuple) -> tuple:
        values = list(values)
        for index, found, column in steps:
            for converter in found:
                values[index] = converter(values[index], column, connection)
        return tuple(values)

    return convert


@cache
def field_names(model: type[Model]) -> tuple[str, ...]:
    return tuple(f.attname for f in model._meta.concrete_fields)


def rows_insert(model: type[M], objs: Iterable[M], *, read_keys: bool = True) -> list[M]:
    """Insert `objs` (new, unsaved instances of `model`) and set their primary keys.

    Objects that all have their keys already (`keys_query`) are inserted with them and
    nothing is read back: inside `rows_pipeline` the statement does not wait for its answer.
    Neither does it with `read_keys=False` (PostgreSQL); the objects then get no keys.
    """
    objs = list(objs)
    if not objs:
        return objs
    if connection.vendor != "postgresql":
        return model._default_manager.bulk_create(objs)
    keyed = all(obj.pk is not None for obj in objs)
    returning = read_keys and not keyed
    plan = insert_plan(model, keyed)
    ids = []
    per_statement = MAX_PARAMETERS // len(plan.readers)
    for start in range(0, len(objs), per_statement):
        chunk = objs[start : start + per_statement]
        values = [read(obj) for obj in chunk for read in plan.readers]
        sql = insert_sql(model, len(chunk), keyed, returning)
        if returning:
            ids += [row[0] for row in rows_execute(sql, values)]
        else:
            rows_write(sql, values)
    if returning or keyed:
        for obj, pk in zip(objs, ids if returning else [obj.pk for obj in objs], strict=True):
            obj.pk = pk
            obj._state.adding, obj._state.db = False, connection.alias
    return objs


@cache
def insert_plan(model: type[Model], keyed: bool = False) -> InsertPlan:
    """Without `keyed` the database gives the keys, with it the rows bring them."""
    meta = model._meta
    fields = [f for f in meta.concrete_fields if keyed or f is not meta.auto_field]
    quote = connection.ops.quote_name
    return InsertPlan(
        head=f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)})",
        row=f"({', '.join(['%s'] * len(fields))})",
        tail=f"RETURNING {quote(meta.pk.column)}",
        readers=tuple(value_reader(f) for f in fields),
    )


@lru_cache(maxsize=1024)
def insert_sql(model: type[Model], rows: int, keyed: bool = False, returning: bool = True) -> str:
    plan = insert_plan(model, keyed)
    values = f"{plan.head} VALUES {', '.join([plan.row] * rows)}"
    return f"{values} {plan.tail}" if returning else values


def keys_query(*wanted: tuple[type[Model], int]) -> Query[list[list[int]]]:
    """For each (model, count): `count` new primary keys from the model's table sequence
    (PostgreSQL), all in one statement, so that the rows can be written without reading
    their keys back (`rows_insert`); a key drawn and not used is skipped. Elsewhere none:
    the rows get theirs when inserted."""
    if connection.vendor != "postgresql" or not any(count > 0 for _model, count in wanted):
        return Query("", [], lambda _rows: [[] for _ in wanted])
    sources = ", ".join(
        f"({n}, pg_get_serial_sequence(%s, %s)::regclass, %s::integer)" for n in range(len(wanted))
    )
    sql = (
        f"SELECT q.n, nextval(q.s) FROM (VALUES {sources}) AS q(n, s, c) "
        "CROSS JOIN LATERAL generate_series(1, q.c)"
    )
    params = [
        v for model, count in wanted for v in (model._meta.db_table, model._meta.pk.column, count)
    ]
    return Query(sql, params, lambda rows: keys_split(rows, len(wanted)))


def keys_split(rows: list[tuple], groups: int) -> list[list[int]]:
    keys: list[list[int]] = [[] for _ in range(groups)]
    for n, key in rows:
        keys[n].append(key)
    return [sorted(found) for found in keys]


def keys_give(objs: Sequence[Model], keys: Sequence[int]) -> None:
    """Give `objs` keys that `keys_query` drew (none where none were drawn)."""
    for obj, key in zip(objs, keys, strict=False):
        obj.pk = key


def value_reader(field: Field) -> Callable[[Model], object]:
    """How to get the value to send for `field` from an instance: as it is where psycopg
    takes it so, else as the field prepares it (`pre_save`: `auto_now`, files)."""
    if field.is_relation:
        return lambda obj: foreign_key(obj, field)
    automatic = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
    if field.get_internal_type() in AS_IS and not automatic:
        attname = field.attname
        return lambda obj: getattr(obj, attname)
    return lambda obj: field.get_db_prep_save(field.pre_save(obj, add=True), connection)


def foreign_key(obj: Model, field: Field) -> object:
    """The key of `obj`'s related object, also one that was saved after it was assigned
    (as `Model._prepare_related_fields_for_save` does); an unsaved one is refused."""
    value = getattr(obj, field.attname)
    if value is None and field.is_cached(obj):
        related = field.get_cached_value(obj)
        if related is not None:
            if related.pk is None:
                raise ValueError(f"{field.name}: the related object is not saved")
            setattr(obj, field.name, related)  # sets the key from the saved object
            value = getattr(obj, field.attname)
    return value


def history_insert(model: type[M], objs: list[M], *, at) -> None:
    """The django-simple-history rows of `objs` (saved rows of `model`) as they are now
    (type "+", created, by no user), what `bulk_history_create` writes; on PostgreSQL
    copied in the database with one statement, without an instance per row."""
    if not objs:
        return
    if connection.vendor != "postgresql":
        model.history.bulk_history_create(objs, default_date=at)
        return
    rows_write(history_sql(model, len(objs)), [at, *(obj.pk for obj in objs)])


@lru_cache(maxsize=256)
def history_sql(model: type[Model], rows: int) -> str:
    history = model.history.model
    quote = connection.ops.quote_name
    tracked = {f.attname for f in model._meta.concrete_fields}
    copied = [f.column for f in history._meta.concrete_fields if f.attname in tracked]
    return (
        f"INSERT INTO {quote(history._meta.db_table)} "
        f"({', '.join(map(quote, copied))}, history_date, history_type) "
        f"SELECT {', '.join(map(quote, copied))}, %s, '+' FROM {quote(model._meta.db_table)} "
        f"WHERE {quote(model._meta.pk.column)} IN ({', '.join(['%s'] * rows)})"
    )


def rows_execute(sql: str, params: Sequence[Any]) -> list[tuple]:
    """Run `sql` (`%s` placeholders) with `params`; the rows it returns, if any.

    On PostgreSQL, unless Django logs queries, numbered once (`numbered`) and bound as it
    is through psycopg's `RawCursor` in Django's cursor wrapper (errors translated, execute
    wrappers run): no reading of the statement per execution.
    """
    if raw_path():
        cursor, sql = raw_cursor(), numbered(sql)
    else:
        cursor = connection.cursor()
    with cursor:
        cursor.execute(sql, params)
        pipeline_sync()  # in a pipeline: what was written before, and this answer
        return cursor.fetchall() if cursor.description is not None else []


def rows_write(sql: str, params: Sequence[Any]) -> None:
    """Run `sql` (`%s` placeholders) and read nothing back: inside `rows_pipeline` it goes
    out with the next statement whose answer is read, or at the end."""
    if not raw_path():
        rows_execute(sql, params)
        return
    with raw_cursor() as cursor:
        cursor.execute(numbered(sql), params)


_pipelined = threading.local()


def pipelined() -> bool:
    """Whether this thread is inside `rows_pipeline`: writes do not wait for answers."""
    return getattr(_pipelined, "pipeline", None) is not None


def pipeline_sync() -> None:
    """Inside `rows_pipeline`: send what waits and read every answer."""
    if (pipeline := getattr(_pipelined, "pipeline", None)) is not None:
        with connection.wrap_database_errors:
            pipeline.sync()


@contextmanager
def rows_pipeline() -> Iterator[None]:
    """Writes inside (`rows_write`, `rows_insert` of keyed rows) do not wait for their
    answers. On PostgreSQL (unless Django logs queries) psycopg's pipeline mode: they go
    out with the next statement whose rows are read and at the end, and a failure is raised
    there, as Django's error. Elsewhere they run as they come.

    ORM statements inside must not count rows (`update()`, `save()` of a stored row): the
    count arrives only with the next answer that is read.
    """
    if not raw_path() or pipelined():
        yield
        return
    connection.ensure_connection()
    with connection.wrap_database_errors, connection.connection.pipeline() as pipeline:
        _pipelined.pipeline = pipeline
        try:
            yield
        finally:
            _pipelined.pipeline = None


def raw_path() -> bool:
    return connection.vendor == "postgresql" and not connection.queries_logged


def raw_cursor() -> Any:
    """A psycopg `RawCursor` in Django's cursor wrapper (PostgreSQL)."""
    connection.close_if_health_check_failed()  # what `connection.cursor()` does first
    connection.ensure_connection()
    connection.validate_thread_sharing()
    return connection.make_cursor(psycopg.RawCursor(connection.connection))


@dataclass(frozen=True)
class Query(Generic[T]):
    """A statement (`%s` placeholders) and what its rows make, to run alone (`run`) or with
    other independent ones in one round trip (`rows_together`). Without a statement (`sql`
    empty) it makes what no rows make, without asking the database."""

    sql: str
    params: Sequence[Any]
    read: Callable[[list[tuple]], T]

    def run(self) -> T:
        return self.read(rows_execute(self.sql, self.params) if self.sql else [])


def rows_together(*queries: Query) -> list[Any]:
    """What each of these independent queries makes, in order.

    On PostgreSQL (unless Django logs queries) their statements go out together in
    psycopg's pipeline mode, with the `BEGIN` of a transaction they start, and the
    answers come back together: one round trip instead of one per statement (each costs
    the client and the server about as much CPU as a small statement itself). Elsewhere
    they run one after the other.
    """
    asked = [query for query in queries if query.sql]
    if not asked or not raw_path():
        return [query.run() for query in queries]
    cursors = []
    inside = pipelined()
    try:
        with rows_pipeline():  # a new one, or the one it is in, which it syncs itself
            for query in asked:
                cursor = raw_cursor()
                cursors.append(cursor)
                cursor.execute(numbered(query.sql), query.params)
            if inside:
                pipeline_sync()
        answers = iter([cursor.fetchall() for cursor in cursors])
    finally:
        for cursor in cursors:
            cursor.close()
    return [query.read(next(answers) if query.sql else []) for query in queries]


@lru_cache(maxsize=2048)
def numbered(sql: str) -> str:
    """`sql` with its `%s` placeholders as PostgreSQL's own: `$1`, `$2`, …"""
    parts = sql.split("%s")
    if "%" in "".join(parts):
        raise ValueError("only %s placeholders can be numbered")
    return "".join(part + (f"${n}" if n < len(parts) else "") for n, part in enumerate(parts, 1))
