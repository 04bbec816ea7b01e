"""Conversations remember the one the same client had before choosing "새 대화".

Revision ID: 0008_conversation_links
Revises: 0007_conversation_care_state
Create Date: 2026-12-03 10:15:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0008_conversation_links"
down_revision = "0007_conversation_care_state"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("conversations") as batch_op:
        batch_op.add_column(sa.Column("previous_id", sa.String(length=32), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_conversations_previous_id_conversations"),
            "conversations",
            ["previous_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index(batch_op.f("ix_conversations_previous_id"), ["previous_id"], unique=False)


def downgrade():
    with op.batch_alter_table("conversations") as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversations_previous_id"))
        batch_op.drop_constraint(batch_op.f("fk_conversations_previous_id_conversations"), type_="foreignkey")
        batch_op.drop_column("previous_id")
