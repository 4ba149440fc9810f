"""Alembic environment: migrations run on the connection the store hands over (never from a config file).

`playground.storage.runs.migrate` calls Alembic with `config.attributes["connection"]` set; the target metadata
is the store's one SQLAlchemy Base, so `alembic check` compares the models with the migrations.
"""

from __future__ import annotations

from alembic import context

import playground.storage.evals  # noqa: F401 - the eval tables join the metadata
from playground.storage.runs import TableBase

connection = context.config.attributes["connection"]
# render_as_batch: SQLite alters a table by copying it; the same migration runs as plain ALTERs elsewhere.
context.configure(connection=connection, target_metadata=TableBase.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
