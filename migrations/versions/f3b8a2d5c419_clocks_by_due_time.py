"""clocks by due time: running clocks falling due since the scorecards' last update

Revision ID: f3b8a2d5c419
Revises: e92d4f1c6a57
Create Date: 2026-11-29 12:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'f3b8a2d5c419'
down_revision = 'e92d4f1c6a57'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_sla_clock_due_at', 'sla_clock', ['due_at'], unique=False)
    op.create_index('ix_sla_clock_interim_due_at', 'sla_clock', ['interim_due_at'], unique=False)


def downgrade():
    op.drop_index('ix_sla_clock_interim_due_at', table_name='sla_clock')
    op.drop_index('ix_sla_clock_due_at', table_name='sla_clock')
