"""Turns keep which stages degraded (failed after risk was assessed and were replaced by a fallback).

Revision ID: 0006_turn_audio_state
Revises: 0005_server_sessions
Create Date: 2026-12-03 10:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0006_turn_audio_state"
down_revision = "0005_server_sessions"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("turns") as batch_op:
        batch_op.add_column(sa.Column("degraded", sa.JSON(), nullable=False, server_default="[]"))


def downgrade():
    with op.batch_alter_table("turns") as batch_op:
        batch_op.drop_column("degraded")
