"""auto-recharge attempts, alert settings and the notification outbox

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 17:00:00

``auto_recharge_amount_cents`` was never written by anything; it becomes
``auto_recharge_to_cents`` (the balance a recharge tops up to, DESIGN.md §7). A plain
RENAME COLUMN works on both databases and, unlike a batch copy of ``accounts``, leaves the
foreign keys that point at it alone.
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE accounts RENAME COLUMN auto_recharge_amount_cents TO auto_recharge_to_cents")
    with op.batch_alter_table('accounts', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('auto_recharge_failures', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('auto_recharge_failed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('auto_recharge_failure_code', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('auto_recharge_failure_message', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('low_balance_threshold_cents', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('alert_recipient_ids', sa.Text(), nullable=True))
    op.create_table(
        'auto_recharge_attempts',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('key', sa.String(length=100), nullable=False),
        sa.Column('amount_cents', sa.BigInteger(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('claimed_until', sa.DateTime(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('transaction_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id']),
        sa.ForeignKeyConstraint(['transaction_id'], ['transactions.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('key'),
    )
    op.create_index('ix_auto_recharge_attempts_account_state', 'auto_recharge_attempts', ['account_id', 'state'])
    op.create_table(
        'notifications',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('subject', sa.String(length=300), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('recipients', sa.Text(), nullable=False),
        sa.Column('dedupe_key', sa.String(length=200), nullable=True),
        sa.Column('delivered_at', sa.DateTime(), nullable=True),
        sa.Column('claimed_until', sa.DateTime(), nullable=True),
        sa.Column('next_attempt_at', sa.DateTime(), nullable=True),
        sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
        sa.Column('last_error', sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('dedupe_key'),
    )
    op.create_index('ix_notifications_account_id', 'notifications', ['account_id', 'id'])
    op.create_index('ix_notifications_pending', 'notifications', ['delivered_at', 'next_attempt_at'])


def downgrade() -> None:
    op.drop_index('ix_notifications_pending', table_name='notifications')
    op.drop_index('ix_notifications_account_id', table_name='notifications')
    op.drop_table('notifications')
    op.drop_index('ix_auto_recharge_attempts_account_state', table_name='auto_recharge_attempts')
    op.drop_table('auto_recharge_attempts')
    with op.batch_alter_table('accounts', schema=None, recreate='never') as batch_op:
        for column in ('alert_recipient_ids', 'low_balance_threshold_cents', 'auto_recharge_failure_message',
                       'auto_recharge_failure_code', 'auto_recharge_failed_at', 'auto_recharge_failures'):
            batch_op.drop_column(column)
    op.execute("ALTER TABLE accounts RENAME COLUMN auto_recharge_to_cents TO auto_recharge_amount_cents")
