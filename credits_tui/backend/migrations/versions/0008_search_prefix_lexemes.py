"""PostgreSQL's search vector also holds each word's first one and two characters

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 14:20:00

A one- or two-character prefix (the first keystrokes of a search) is then one exact lexeme
for GIN rather than a merge of every lexeme it starts: see db/search_index.py. A generated
column's expression cannot be altered, so the column and its index are made again, which
rewrites the table (about a minute for a million rows). db/migrate.py then vacuums and
analyses: without statistics the free-text summaries' plans went wrong (on a million rows
"postcard" took 94–129 ms instead of 45–60). On a database 0001 has just made, the column
is already the new one and the table empty. SQLite is unchanged.
"""

from alembic import op

from credits_tui.backend.db import search_index

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        search_index.drop(bind)
        search_index.create(bind)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        search_index.drop(bind)
        op.execute("ALTER TABLE transactions ADD COLUMN search_vector tsvector "
                   "GENERATED ALWAYS AS (to_tsvector('simple', search_text)) STORED")
        op.execute("CREATE INDEX ix_transactions_search ON transactions USING gin (search_vector)")
