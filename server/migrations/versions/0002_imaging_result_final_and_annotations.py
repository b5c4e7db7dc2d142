"""imaging: result_final and annotations

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 18:28:15.690634
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "xray_annotations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("xray_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "author_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("calibration_mm_per_pixel", sa.Double(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_xray_annotations_author_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["xray_id"],
            ["xrays.id"],
            name=op.f("fk_xray_annotations_xray_id_xrays"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_xray_annotations")),
        sa.UniqueConstraint("xray_id", name=op.f("uq_xray_annotations_xray_id")),
    )
    with op.batch_alter_table("xrays", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("result_final", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:

    with op.batch_alter_table("xrays", schema=None) as batch_op:
        batch_op.drop_column("result_final")

    op.drop_table("xray_annotations")
