"""the audit log: one append-only row per sign-in, card change, purchase and export

Revision ID: 0006
Revises: 0004 (re-pointed to 0005 when the branches merge)
Create Date: 2026-11-28 17:00:00

Append-only is the code's rule (nothing updates or deletes a row); on PostgreSQL a trigger
makes it the database's too, so a stray UPDATE or DELETE fails instead of rewriting history.
TRUNCATE (the tests' reset) is not a row operation and is not refused.
"""

import sqlalchemy as sa
from alembic import op

from credits_tui.backend.db.schema import UTCDateTime

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('at', UTCDateTime(), nullable=False),
    sa.Column('actor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_account_id', ['account_id', 'id'], unique=False)
        batch_op.create_index('ix_audit_events_account_action', ['account_id', 'action', 'id'], unique=False)
        batch_op.create_index('ix_audit_events_account_actor', ['account_id', 'actor_id', 'id'], unique=False)
        batch_op.create_index('ix_audit_events_account_time', ['account_id', 'at', 'id'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP;
            END $$
        """)
        op.execute("CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
                   "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION audit_events_append_only()")
    op.drop_table('audit_events')
