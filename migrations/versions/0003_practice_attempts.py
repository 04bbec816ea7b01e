"""Pronunciation practice: one row per attempt, with its scores and per-syllable verdicts.

Revision ID: 0003_practice_attempts
Revises: 0002_counsellor_review
Create Date: 2026-11-23 09:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0003_practice_attempts"
down_revision = "0002_counsellor_review"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "practice_attempts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("learner_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sentence_id", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("heard_text", sa.Text(), nullable=False),
        sa.Column("accuracy", sa.Double(), nullable=False),
        sa.Column("completeness", sa.Double(), nullable=False),
        sa.Column("fluency", sa.Double(), nullable=False),
        sa.Column("overall", sa.Double(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practice_attempts")),
    )
    with op.batch_alter_table("practice_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_practice_attempts_learner_hash"), ["learner_hash"], unique=False)


def downgrade():
    with op.batch_alter_table("practice_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_practice_attempts_learner_hash"))
    op.drop_table("practice_attempts")
