"""Turns keep why a generating responder (kogpt2) fell back to the curated reply.

Revision ID: 0004_reply_fallback
Revises: 0003_practice_attempts
Create Date: 2026-11-21 14:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0004_reply_fallback"
down_revision = "0003_practice_attempts"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("turns") as batch_op:
        batch_op.add_column(sa.Column("reply_fallback", sa.String(length=120), nullable=False, server_default=""))


def downgrade():
    with op.batch_alter_table("turns") as batch_op:
        batch_op.drop_column("reply_fallback")
