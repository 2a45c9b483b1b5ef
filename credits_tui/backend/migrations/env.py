"""Alembic environment: runs on the connection that ``credits_tui.backend.db.migrate`` hands it."""

from alembic import context

from credits_tui.backend.db.schema import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
