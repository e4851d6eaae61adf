"""indexes for scorecards: a department's clocks by stop time, ticket events by type and time

Revision ID: c3d1f0a2b7e4
Revises: e515a5b20f61
Create Date: 2026-11-29 02:50:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'c3d1f0a2b7e4'
down_revision = 'e515a5b20f61'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_sla_clock_department_stopped', 'sla_clock', ['department_id', 'stopped_at'], unique=False)
    op.create_index('ix_ticket_event_type_at', 'ticket_event', ['type', 'at'], unique=False)


def downgrade():
    op.drop_index('ix_ticket_event_type_at', table_name='ticket_event')
    op.drop_index('ix_sla_clock_department_stopped', table_name='sla_clock')
