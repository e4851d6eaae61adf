"""clocks by stop time: the open month's clocks for the scorecards' per-ticket shares

Revision ID: e92d4f1c6a57
Revises: d81c5e7a9b30
Create Date: 2026-11-29 11:50:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e92d4f1c6a57'
down_revision = 'd81c5e7a9b30'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_sla_clock_stopped_at', 'sla_clock', ['stopped_at'], unique=False)


def downgrade():
    op.drop_index('ix_sla_clock_stopped_at', table_name='sla_clock')
