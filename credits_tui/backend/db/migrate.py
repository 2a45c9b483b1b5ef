"""Apply the Alembic migrations in-process, without an alembic.ini."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from credits_tui.backend.db.engine import Database

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# Any fixed number: it serialises workers that start at once against one PostgreSQL.
_PG_MIGRATION_LOCK = 7_406_031


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(database: Database) -> None:
    """Bring the schema to the newest revision (a no-op when it is there already)."""
    config = alembic_config()
    with database.write_engine.begin() as connection:
        if not database.is_sqlite:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        migrated_from = MigrationContext.configure(connection).get_current_revision()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        migrated = MigrationContext.configure(connection).get_current_revision() != migrated_from
    if migrated and migrated_from is not None and not database.is_sqlite:
        _vacuum_and_analyse(database)


def _vacuum_and_analyse(database: Database) -> None:
    """After migrating a database already in use: a migration may have rewritten a table (0008
    rewrote the ledger), which leaves it without planner statistics and without the visibility
    map that index-only scans need. Autovacuum would see to them only after a tenth and a fifth
    more rows; VACUUM cannot run inside the migrations' transaction."""
    with database.write_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM (ANALYZE)")
