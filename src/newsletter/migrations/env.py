"""Alembic environment: runs on the connection :func:`newsletter.store.migrate` hands over.

``alembic -c <ini>`` from the command line works too (``sqlalchemy.url`` or
``NEWSLETTER_DATABASE_URL``), for an operator who wants to look at history.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine

from newsletter.store import metadata

config = context.config


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # ALTER TABLE on SQLite
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
elif context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    url = config.get_main_option("sqlalchemy.url") or os.environ["NEWSLETTER_DATABASE_URL"]
    with create_engine(url).begin() as conn:
        _run(conn)
