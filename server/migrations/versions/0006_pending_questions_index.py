"""The doctors' queue of pending questions reads a partial index in id order

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 01:20:00

The queue (pending, assigned to the doctor or to no one, oldest first) was read through the
index on (status, doctor_id, id): SQLite then gathered every pending question of both kinds and
sorted them, 8 ms at 10k questions and growing with the table. A partial index of the pending
questions' ids gives them in order, so a page stops after fifty. The composite index goes: with
it beside the partial one, SQLite without statistics keeps choosing it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = "status = 'pending'"


def upgrade() -> None:
    op.drop_index("ix_questions_status_doctor_id_id", table_name="questions")
    op.create_index(
        "ix_questions_pending_id",
        "questions",
        ["id"],
        unique=False,
        sqlite_where=sa.text(PENDING),
        postgresql_where=sa.text(PENDING),
    )


def downgrade() -> None:
    op.drop_index("ix_questions_pending_id", table_name="questions")
    op.create_index(
        "ix_questions_status_doctor_id_id",
        "questions",
        ["status", "doctor_id", "id"],
        unique=False,
    )
