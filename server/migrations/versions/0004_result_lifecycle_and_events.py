"""results: lifecycle (status, signer, time) and addenda; events: the live-event outbox

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 19:20:00

Films marked final by earlier releases become signed results. Who signed them was never
recorded, so the signer stays empty (null: "signed before signatures were recorded") rather
than being attributed to someone who may not have signed; the time is the film's last change.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UNSIGNED = "result_status IN ('none', 'preliminary') AND deleted_at IS NULL"
RESULT_STATUSES = ("none", "preliminary", "final", "amended")
EVENT_TYPES = (
    "question.created",
    "question.answered",
    "question.claimed",
    "xray.created",
    "xray.signed",
    "xray.amended",
    "history.changed",
    "user.registered",
)


def _check(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def upgrade() -> None:
    with op.batch_alter_table("xrays", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("result_status", sa.String(length=32), nullable=False, server_default="none")
        )
        batch_op.add_column(sa.Column("result_signed_by_id", ID, nullable=True))
        batch_op.add_column(
            sa.Column("result_signed_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.execute(
        "UPDATE xrays SET result_status = 'final', result_signed_at = updated_at WHERE result_final"
    )
    op.execute(
        "UPDATE xrays SET result_status = 'preliminary' WHERE NOT result_final "
        "AND result_of_xray IS NOT NULL AND trim(result_of_xray) != ''"
    )
    with op.batch_alter_table("xrays", schema=None) as batch_op:
        batch_op.drop_column("result_final")
        batch_op.create_check_constraint("result_status", _check("result_status", RESULT_STATUSES))
        batch_op.create_foreign_key(
            "fk_xrays_result_signed_by_id_users",
            "users",
            ["result_signed_by_id"],
            ["id"],
            ondelete="RESTRICT",
        )
    op.create_index(
        "ix_xrays_unsigned_id",
        "xrays",
        ["id"],
        unique=False,
        sqlite_where=sa.text(UNSIGNED),
        postgresql_where=sa.text(UNSIGNED),
    )
    op.create_table(
        "xray_addenda",
        sa.Column("id", ID, nullable=False),
        sa.Column("xray_id", ID, nullable=False),
        sa.Column("author_id", ID, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_xray_addenda_author_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["xray_id"],
            ["xrays.id"],
            name=op.f("fk_xray_addenda_xray_id_xrays"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_xray_addenda")),
    )
    op.create_index("ix_xray_addenda_xray_id_id", "xray_addenda", ["xray_id", "id"])
    op.create_table(
        "events",
        sa.Column("id", ID, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_id", ID, nullable=False),
        sa.Column("patient_id", ID, nullable=True),
        sa.Column("doctor_id", ID, nullable=True),
        sa.Column("all_doctors", sa.Boolean(), nullable=False),
        sa.Column("to_patient", sa.Boolean(), nullable=False),
        sa.Column("to_admins", sa.Boolean(), nullable=False),
        sa.CheckConstraint(_check("type", EVENT_TYPES), name=op.f("ck_events_event_type")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index(op.f("ix_events_at"), "events", ["at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_events_at"), table_name="events")
    op.drop_table("events")
    op.drop_index("ix_xray_addenda_xray_id_id", table_name="xray_addenda")
    op.drop_table("xray_addenda")
    op.drop_index("ix_xrays_unsigned_id", table_name="xrays")
    with op.batch_alter_table("xrays", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("result_final", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.execute("UPDATE xrays SET result_final = result_status IN ('final', 'amended')")
    with op.batch_alter_table("xrays", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_xrays_result_signed_by_id_users"), type_="foreignkey")
        batch_op.drop_constraint(op.f("ck_xrays_result_status"), type_="check")
        batch_op.drop_column("result_signed_at")
        batch_op.drop_column("result_signed_by_id")
        batch_op.drop_column("result_status")
