"""Turns keep the sentences their reply is spoken in, one audio clip each.

Revision ID: 0009_reply_audio_clips
Revises: 0008_conversation_links
Create Date: 2026-12-03 10:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0009_reply_audio_clips"
down_revision = "0008_conversation_links"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("turns") as batch_op:
        batch_op.add_column(sa.Column("reply_clips", sa.JSON(), nullable=False, server_default="[]"))


def downgrade():
    with op.batch_alter_table("turns") as batch_op:
        batch_op.drop_column("reply_clips")
