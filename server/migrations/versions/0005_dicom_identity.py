"""DICOM in and out: medical record numbers, every x-ray a DICOM instance, the unmatched inbox

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 21:30:00

Every existing patient gets a medical record number. Every existing x-ray gets its instance
identity: a DICOM file's own UIDs, study date, modality and patient fields, read from the stored
file (found through MEDSYS_STORAGE_DIR / MEDSYS_DATA_DIR, as `serve` finds it); a PNG or JPEG,
or a DICOM file that cannot be read, gets UIDs made now and kept from then on. Where one DICOM
file was uploaded more than once, the first x-ray keeps its SOPInstanceUID and the others get
new ones (an instance is stored once among live x-rays), in the same study and series.
"""

import os
from collections.abc import Sequence
from pathlib import Path

import pydicom
import sqlalchemy as sa
from alembic import op
from pydicom.uid import SecondaryCaptureImageStorage, generate_uid

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
DICOM = "application/dicom"


def _instance_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("sop_instance_uid", sa.String(length=64), nullable=True),
        sa.Column("study_instance_uid", sa.String(length=64), nullable=True),
        sa.Column("series_instance_uid", sa.String(length=64), nullable=True),
        sa.Column("sop_class_uid", sa.String(length=64), nullable=True),
        sa.Column("study_date", sa.Date(), nullable=True),
        sa.Column("modality", sa.String(length=16), nullable=True),
        sa.Column("file_patient_id", sa.String(length=64), nullable=True),
        sa.Column("file_patient_name", sa.String(length=324), nullable=True),
        sa.Column("file_birth_date", sa.String(length=16), nullable=True),
    ]


def _storage_dir() -> Path:
    data_dir = Path(os.environ.get("MEDSYS_DATA_DIR") or "./var")
    return Path(os.environ.get("MEDSYS_STORAGE_DIR") or data_dir / "storage")


def _file_identity(storage: Path, sha256: str) -> dict[str, object]:
    path = storage / "objects" / sha256[:2] / sha256[2:4] / sha256
    try:
        dataset = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception:  # missing or unreadable: the x-ray gets made UIDs like a PNG
        return {}

    def text(keyword: str) -> str | None:
        value = str(dataset.get(keyword, "") or "").strip()
        return value or None

    study_date = text("StudyDate")
    return {
        "sop_instance_uid": text("SOPInstanceUID"),
        "study_instance_uid": text("StudyInstanceUID"),
        "series_instance_uid": text("SeriesInstanceUID"),
        "sop_class_uid": text("SOPClassUID"),
        "study_date": _date(study_date),
        "modality": (text("Modality") or "")[:16] or None,
        "file_patient_id": (text("PatientID") or "")[:64] or None,
        "file_patient_name": (text("PatientName") or "")[:324] or None,
        "file_birth_date": (text("PatientBirthDate") or "")[:16] or None,
    }


def _date(value: str | None) -> object:
    from datetime import date

    if value is None or len(value) != 8 or not value.isdigit():
        return None
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return None


def _fill_identities(connection: sa.Connection) -> None:
    storage = _storage_dir()
    xrays = sa.table(
        "xrays",
        sa.column("id", ID),
        sa.column("content_type", sa.String()),
        sa.column("sha256", sa.String()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        *(sa.column(column.name, column.type) for column in _instance_columns()),
    )
    rows = connection.execute(
        sa.select(xrays.c.id, xrays.c.content_type, xrays.c.sha256, xrays.c.created_at).order_by(
            xrays.c.id
        )
    ).all()
    taken: set[str] = set()
    for row in rows:
        values = _file_identity(storage, row.sha256) if row.content_type == DICOM else {}
        if not values.get("sop_instance_uid") or values["sop_instance_uid"] in taken:
            values["sop_instance_uid"] = generate_uid()
        values.setdefault("sop_class_uid", None)
        values["sop_class_uid"] = values["sop_class_uid"] or SecondaryCaptureImageStorage
        values["study_instance_uid"] = values.get("study_instance_uid") or generate_uid()
        values["series_instance_uid"] = values.get("series_instance_uid") or generate_uid()
        if row.content_type != DICOM:
            values["modality"] = "OT"
            values["study_date"] = row.created_at.date() if row.created_at else None
        taken.add(str(values["sop_instance_uid"]))
        connection.execute(sa.update(xrays).where(xrays.c.id == row.id).values(**values))


def _fill_record_numbers(connection: sa.Connection) -> None:
    users = sa.table(
        "users", sa.column("id", ID), sa.column("usertype"), sa.column("record_number")
    )
    patients = connection.execute(
        sa.select(users.c.id).where(users.c.usertype == "patient").order_by(users.c.id)
    ).scalars()
    for patient_id in patients.all():
        connection.execute(
            sa.update(users)
            .where(users.c.id == patient_id)
            .values(record_number=f"M{patient_id:07d}")
        )


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("record_number", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(op.f("uq_users_record_number"), ["record_number"])
    _fill_record_numbers(op.get_bind())
    with op.batch_alter_table("xrays", schema=None) as batch_op:
        for column in _instance_columns():
            batch_op.add_column(column)
        batch_op.alter_column("uploaded_by_id", existing_type=ID, nullable=True)
    _fill_identities(op.get_bind())
    with op.batch_alter_table("xrays", schema=None) as batch_op:
        for name in ("sop_instance_uid", "study_instance_uid", "series_instance_uid"):
            batch_op.alter_column(name, existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("sop_class_uid", existing_type=sa.String(length=64), nullable=False)
    op.create_index(
        "ux_xrays_sop_instance_uid",
        "xrays",
        ["sop_instance_uid"],
        unique=True,
        sqlite_where=sa.text("deleted_at IS NULL"),
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_table(
        "unmatched_instances",
        sa.Column("id", ID, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("body_part", sa.String(length=64), nullable=True),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("thumbnail_type", sa.String(length=32), nullable=False),
        *[
            column
            if column.name
            not in (
                "sop_instance_uid",
                "study_instance_uid",
                "series_instance_uid",
                "sop_class_uid",
            )
            else sa.Column(column.name, column.type, nullable=False)
            for column in _instance_columns()
        ],
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unmatched_instances")),
    )
    op.create_index(
        "ux_unmatched_sop_instance_uid", "unmatched_instances", ["sop_instance_uid"], unique=True
    )
    op.create_index(
        op.f("ix_unmatched_instances_sha256"), "unmatched_instances", ["sha256"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_unmatched_instances_sha256"), table_name="unmatched_instances")
    op.drop_index("ux_unmatched_sop_instance_uid", table_name="unmatched_instances")
    op.drop_table("unmatched_instances")
    op.drop_index("ux_xrays_sop_instance_uid", table_name="xrays")
    with op.batch_alter_table("xrays", schema=None) as batch_op:
        for column in _instance_columns():
            batch_op.drop_column(column.name)
        batch_op.alter_column("uploaded_by_id", existing_type=ID, nullable=False)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_users_record_number"), type_="unique")
        batch_op.drop_column("record_number")
