"""daily usage per process type without the user dimension, for the usage chart

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 19:10:00

The per-day aggregates carry the user, so a 13-month usage chart read several aggregate rows
per day and process type and grouped them on every request. This table holds the sum already.
Existing history is summed from those aggregates (one INSERT … SELECT over thousands of rows,
not the million ledger rows they were themselves summed from); from now on services/ledger.py
keeps both in the same upsert batch. Inserted in key order, so that on PostgreSQL the rows
of a window also lie together in the heap (as appends, one day after the other, keep them).
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('usage_daily_totals',
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('process_type', sa.String(length=64).with_variant(sa.String(length=64, collation='C'), 'postgresql'),
              nullable=False),
    sa.Column('used_cents', sa.BigInteger(), nullable=False),
    sa.Column('quantity', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('account_id', 'day', 'process_type'),
    sqlite_with_rowid=False,
    )
    op.execute("""
        INSERT INTO usage_daily_totals (account_id, day, process_type, used_cents, quantity)
        SELECT account_id, day, process_type, SUM(used_cents), SUM(quantity)
        FROM transaction_daily_totals WHERE transaction_type = 'usage'
        GROUP BY account_id, day, process_type
        ORDER BY account_id, day, process_type
    """)


def downgrade() -> None:
    op.drop_table('usage_daily_totals')
