"""On-duty alerts: an outbox of notices (e-mail, webhook) sent when a conversation becomes high risk.

A row is written right after the turn that raised the alert and sent, with retries, by a
background thread; it keeps no client words, only the link, the level and the categories.

Revision ID: 0010_alerts
Revises: 0009_reply_audio_clips
Create Date: 2026-12-03 10:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0010_alerts"
down_revision = "0009_reply_audio_clips"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "alert_notices",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("turn_index", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("link", sa.String(length=512), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=255), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("channel IN ('email', 'webhook')", name=op.f("ck_alert_notices_channel")),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'failed')", name=op.f("ck_alert_notices_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_notices")),
    )
    with op.batch_alter_table("alert_notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_notices_conversation_id"), ["conversation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_notices_next_attempt_at"), ["next_attempt_at"], unique=False)


def downgrade():
    with op.batch_alter_table("alert_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_notices_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_alert_notices_conversation_id"))
    op.drop_table("alert_notices")
