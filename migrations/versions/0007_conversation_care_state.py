"""Conversations keep their care state: risk across the turns, screening answers, remembered facts.

Revision ID: 0007_conversation_care_state
Revises: 0006_turn_audio_state
Create Date: 2026-12-03 11:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0007_conversation_care_state"
down_revision = "0006_turn_audio_state"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("conversations") as batch_op:
        batch_op.add_column(sa.Column("care_state", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("conversations") as batch_op:
        batch_op.drop_column("care_state")
