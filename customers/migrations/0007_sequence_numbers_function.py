"""On PostgreSQL, named sequences draw from database sequences (`cpm_sequence_numbers`).

`nextval` takes no lock that lasts until commit, so concurrent transactions that create
cases or customers no longer wait for each other's commit to number them (the counter row's
UPDATE did). A database sequence is made for a name on its first draw, starting after the
counter row's last number, so numbers drawn before this migration are never drawn again.
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION cpm_sequence_numbers(sequence_name text, how_many integer)
RETURNS SETOF bigint LANGUAGE plpgsql AS $$
DECLARE
    relation text := 'cpm_seq_' || regexp_replace(lower(sequence_name), '[^a-z0-9]+', '_', 'g');
    start bigint;
BEGIN
    IF to_regclass(relation) IS NULL THEN
        SELECT coalesce(max("last"), 0) + 1 INTO start
            FROM customers_sequence WHERE name = sequence_name;
        BEGIN
            EXECUTE format('CREATE SEQUENCE %I START %s', relation, start);
        EXCEPTION WHEN duplicate_table OR unique_violation THEN
            NULL;  -- another transaction made it at the same moment
        END;
    END IF;
    RETURN QUERY SELECT nextval(relation::regclass) FROM generate_series(1, how_many);
END
$$;
"""


def function_create(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION, params=None)


def function_drop(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS cpm_sequence_numbers(text, integer)")


class Migration(migrations.Migration):
    dependencies = [("customers", "0006_merge_segment_permission_attachments")]

    operations = [migrations.RunPython(function_create, function_drop)]
