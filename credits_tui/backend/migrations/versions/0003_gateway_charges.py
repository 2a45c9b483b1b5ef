"""the test gateway's own record of charges

Revision ID: 0003
Revises: 0001 (re-pointed to 0002 when the branches merge)
Create Date: 2026-11-28 16:15:00
"""

import sqlalchemy as sa
from alembic import op

from credits_tui.backend.db.schema import UTCDateTime

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('gateway_charges',
    sa.Column('id', sa.String(length=100), nullable=False),
    sa.Column('idempotency_key', sa.String(length=320), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key')
    )
    op.create_index('ix_gateway_charges_created_at', 'gateway_charges', ['created_at'])


def downgrade() -> None:
    op.drop_index('ix_gateway_charges_created_at', table_name='gateway_charges')
    op.drop_table('gateway_charges')
