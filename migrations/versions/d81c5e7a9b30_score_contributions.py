"""each ticket's share of an open month's scorecard sums, for incremental updates

Revision ID: d81c5e7a9b30
Revises: 452dc7ebc776
Create Date: 2026-11-29 11:20:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'd81c5e7a9b30'
down_revision = '452dc7ebc776'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'score_contribution',
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('period', sa.String(length=10), nullable=False),
        sa.Column('department_id', sa.Integer(), nullable=False),
        sa.Column('role', sa.String(length=8), nullable=False),
        sa.Column('item', sa.String(length=32), nullable=False),
        sa.Column('num20', sa.BigInteger(), nullable=False),
        sa.Column('den2', sa.Integer(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('ticket_id', 'period', 'department_id', 'role', 'item'),
    )
    op.create_index('ix_score_contribution_period', 'score_contribution', ['period'], unique=False)
    # the open months' scorecards were stored without their tickets' shares: an incremental update
    # would add a changed ticket's share on top of sums that already hold it. Dropped, they are
    # computed anew (with the shares) by the next update or page that reads them.
    op.execute("DELETE FROM scorecard WHERE NOT frozen AND period <> 'R30'")


def downgrade():
    op.drop_index('ix_score_contribution_period', table_name='score_contribution')
    op.drop_table('score_contribution')
