"""login attempts instead of login failures

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 16:20:00.000000

Sign-in now takes its slot (a row) before checking the password, so the table records
attempts, with their outcome, rather than failures after the fact. The failures of the last
minutes are carried over so that an upgrade does not lift a running limit.
"""

import sqlalchemy as sa
from alembic import op

from credits_tui.backend.db.schema import UTCDateTime

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_attempts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('succeeded', sa.Boolean(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('login_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_login_attempts_client_time', ['client', 'created_at'], unique=False)
        batch_op.create_index('ix_login_attempts_email_client_time', ['email', 'client', 'created_at'],
                              unique=False)
    op.execute("INSERT INTO login_attempts (email, client, created_at, succeeded) "
               "SELECT email, client, created_at, false FROM login_failures")
    op.drop_table('login_failures')


def downgrade() -> None:
    op.create_table('login_failures',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.create_index('ix_login_failures_client_time', ['client', 'created_at'], unique=False)
        batch_op.create_index('ix_login_failures_email_time', ['email', 'created_at'], unique=False)
    # A row still being checked (NULL) counted as a failure, and still does.
    op.execute("INSERT INTO login_failures (email, client, created_at) "
               "SELECT email, client, created_at FROM login_attempts WHERE succeeded IS NOT true")
    op.drop_table('login_attempts')
