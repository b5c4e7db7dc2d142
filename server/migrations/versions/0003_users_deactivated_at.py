"""users: deactivated_at, to tell a closed account from a doctor awaiting approval;
audit_events: detail, what a change was ("approved", "deactivated")

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 18:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True))
    # Inactive patients and admins were closed by an admin; an inactive doctor is taken to be
    # one who registered and awaits approval (the usual case; an admin sees and can reactivate
    # either way). Their last change is the best date known.
    op.execute(
        "UPDATE users SET deactivated_at = updated_at "
        "WHERE is_active = false AND usertype != 'doctor'"
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("detail", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_column("detail")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("deactivated_at")
