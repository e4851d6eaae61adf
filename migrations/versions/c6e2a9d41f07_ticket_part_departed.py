"""ticket parts: whether the department left the ticket (not merely ended with it)

Revision ID: c6e2a9d41f07
Revises: b7d41c9e2a30
Create Date: 2026-11-30 12:50:00

A part ended because its department left (a return upheld, the part removed, swapped out as lead) is
marked departed; one ended because the ticket closed for everyone (withdrawn, rejected, merged) is not,
and its department keeps sight of the ticket. Backfill: the ended parts of tickets still open, resolved
or closed are departed (only leaving ends a part there); on withdrawn, rejected and merged tickets, an
ended part is departed when the ticket's history records its department leaving (`part.removed`,
`dispute.upheld`, or `lead.swapped` naming it as the previous lead), and stays in sight otherwise.
"""
import json

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
    op.execute(
        "UPDATE ticket_part SET departed = true WHERE status = 'ENDED' AND EXISTS "
        "(SELECT 1 FROM ticket_event e WHERE e.ticket_id = ticket_part.ticket_id "
        "AND e.department_id = ticket_part.department_id AND e.type IN ('part.removed', 'dispute.upheld'))"
    )
    # A swapped-out lead is named by code in the event's payload (JSON): read here, not in SQL, which
    # reads JSON differently on SQLite and PostgreSQL.
    conn = op.get_bind()
    swaps = conn.execute(
        sa.text(
            "SELECT e.ticket_id, e.payload FROM ticket_event e JOIN ticket t ON t.id = e.ticket_id "
            "WHERE e.type = 'lead.swapped' AND t.status IN ('WITHDRAWN', 'REJECTED', 'DUPLICATE')"
        )
    ).all()
    codes = dict(conn.execute(sa.text("SELECT code, id FROM department")).all())
    for ticket_id, payload in swaps:
        if isinstance(payload, str):
            payload = json.loads(payload)
        department_id = codes.get((payload or {}).get("previous"))
        if department_id is not None:
            conn.execute(
                sa.text(
                    "UPDATE ticket_part SET departed = true WHERE status = 'ENDED' "
                    "AND ticket_id = :t AND department_id = :d"
                ),
                {"t": ticket_id, "d": department_id},
            )


def downgrade():
    with op.batch_alter_table('ticket_part', schema=None) as batch_op:
        batch_op.drop_column('departed')
