"""Apply the Alembic migrations in-process, without an alembic.ini."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
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
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
