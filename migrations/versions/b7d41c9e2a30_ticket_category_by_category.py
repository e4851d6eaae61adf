"""ticket categories by category: the duplicate check reads a category's latest open tickets

Revision ID: b7d41c9e2a30
Revises: f3b8a2d5c419
Create Date: 2026-11-29 21:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'b7d41c9e2a30'
down_revision = 'f3b8a2d5c419'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_ticket_category_category_ticket', 'ticket_category', ['category_id', 'ticket_id'], unique=False)


def downgrade():
    op.drop_index('ix_ticket_category_category_ticket', table_name='ticket_category')
