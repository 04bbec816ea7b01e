"""Conversations and turns.

A conversation is opened by a client token (only its sha256 is kept); a turn holds what the
client said, what every pipeline stage found, Maum's reply, and where both audio files are.

Revision ID: 0001
Revises:
Create Date: 2026-11-21 10:48:16.614003

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
    )
    op.create_table(
        "turns",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("input_kind", sa.String(length=8), nullable=False),
        sa.Column("user_text", sa.Text(), nullable=False),
        sa.Column("reply_text", sa.Text(), nullable=False),
        sa.Column("reply_kind", sa.String(length=16), nullable=False),
        sa.Column("reply_id", sa.String(length=64), nullable=False),
        sa.Column("emotion_label", sa.String(length=16), nullable=False),
        sa.Column("emotion_scores", sa.JSON(), nullable=False),
        sa.Column("risk_level", sa.String(length=8), nullable=False),
        sa.Column("risk_reasons", sa.JSON(), nullable=False),
        sa.Column("risk_categories", sa.JSON(), nullable=False),
        sa.Column("backends", sa.JSON(), nullable=False),
        sa.Column("timings_ms", sa.JSON(), nullable=False),
        sa.Column("user_audio_path", sa.String(length=255), nullable=True),
        sa.Column("user_audio_sha256", sa.String(length=64), nullable=True),
        sa.Column("reply_audio_path", sa.String(length=255), nullable=True),
        sa.Column("reply_audio_sha256", sa.String(length=64), nullable=True),
        sa.Column("reply_audio_missing", sa.Boolean(), nullable=False),
        sa.Column("synthesis_error", sa.String(length=64), nullable=False),
        sa.CheckConstraint("input_kind IN ('audio', 'text')", name=op.f("ck_turns_input_kind")),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["conversations.id"], name=op.f("fk_turns_conversation_id_conversations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_turns")),
        sa.UniqueConstraint("conversation_id", "index", name=op.f("uq_turns_conversation_id_index")),
    )
    with op.batch_alter_table("turns", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_turns_conversation_id"), ["conversation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_turns_risk_level"), ["risk_level"], unique=False)


def downgrade():
    with op.batch_alter_table("turns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_turns_risk_level"))
        batch_op.drop_index(batch_op.f("ix_turns_conversation_id"))

    op.drop_table("turns")
    op.drop_table("conversations")
