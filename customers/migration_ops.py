"""Migration operations that run on PostgreSQL only, so that SQLite still migrates."""

from __future__ import annotations

from django.db import migrations


class PostgresOnlyAddIndex(migrations.AddIndex):
    """An index that only PostgreSQL can build (GIN trigram); a no-op elsewhere.

    The same index stays in the model's Meta, so `makemigrations --check` sees no change.
    """

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
