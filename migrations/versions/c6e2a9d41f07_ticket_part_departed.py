"""ticket parts: whether the department left the ticket (not merely ended with it)

Revision ID: c6e2a9d41f07
Revises: b7d41c9e2a30
Create Date: 2026-11-30 12:50:00

A part ended because its department left (a return upheld, the part removed, swapped out as lead) is
marked departed; one ended because the ticket closed for everyone (withdrawn, rejected, merged) is not,
and its department keeps sight of the ticket. Existing ended parts of open or resolved tickets are
marked departed; those of closed-for-everyone tickets are not (which way they ended cannot be told
from the rows, and there the department keeps sight of the ticket).
"""
from alembic import op
import sqlalchemy as sa


revision = 'c6e2a9d41f07'
down_revision = 'b7d41c9e2a30'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ticket_part', schema=None) as batch_op:
        batch_op.add_column(sa.Column('departed', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute(
        "UPDATE ticket_part SET departed = true WHERE status = 'ENDED' AND ticket_id IN "
        "(SELECT id FROM ticket WHERE status NOT IN ('WITHDRAWN', 'REJECTED', 'DUPLICATE'))"
    )


def downgrade():
    with op.batch_alter_table('ticket_part', schema=None) as batch_op:
        batch_op.drop_column('departed')
