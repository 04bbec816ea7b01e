"""Turns keep the client's Idempotency-Key, unique per conversation, so a retried POST stores one turn.

Revision ID: 0012_scale_out
Revises: 0010_alerts
Create Date: 2026-12-03 11:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0012_scale_out"
down_revision = "0010_alerts"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("turns") as batch_op:
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            "uq_turns_conversation_id_idempotency_key", ["conversation_id", "idempotency_key"]
        )


def downgrade():
    with op.batch_alter_table("turns") as batch_op:
        batch_op.drop_constraint("uq_turns_conversation_id_idempotency_key", type_="unique")
        batch_op.drop_column("idempotency_key")
