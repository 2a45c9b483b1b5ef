"""units per day in the daily aggregates, for daily usage

Revision ID: 0004
Revises: 0001 (re-pointed to 0003 when the branches merge)
Create Date: 2026-11-28 16:40:00

Receipt numbers are derived from the transaction (services/receipts.py), so receipts need
no table. Existing aggregates get their quantity from the usage rows in one statement, and
an index that covers the daily-usage query (no table lookups, no sort for the grouping).
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('transaction_daily_totals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('quantity', sa.BigInteger(), server_default='0', nullable=False))
    day = "date(created_at)" if op.get_bind().dialect.name == "sqlite" else "CAST(created_at AS date)"
    op.execute(f"""
        UPDATE transaction_daily_totals AS d SET quantity = s.quantity
        FROM (SELECT account_id, {day} AS day, COALESCE(process_type, '') AS process_type,
                     COALESCE(user_id, 0) AS user_id, SUM(quantity) AS quantity
              FROM transactions WHERE transaction_type = 'usage' AND quantity IS NOT NULL
              GROUP BY account_id, {day}, COALESCE(process_type, ''), COALESCE(user_id, 0)) AS s
        WHERE d.account_id = s.account_id AND d.day = s.day AND d.transaction_type = 'usage'
          AND d.process_type = s.process_type AND d.user_id = s.user_id
    """)
    op.create_index('ix_daily_totals_type_day', 'transaction_daily_totals',
                    ['account_id', 'transaction_type', 'day', 'process_type', 'user_id', 'used_cents', 'quantity'])


def downgrade() -> None:
    op.drop_index('ix_daily_totals_type_day', table_name='transaction_daily_totals')
    with op.batch_alter_table('transaction_daily_totals', schema=None) as batch_op:
        batch_op.drop_column('quantity')
