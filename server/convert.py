"""ORM rows to wire models, where a field is derived rather than stored."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from server.access import result_visible
from server.identity import identity_warnings
from server.orm import (
    AddendumRow,
    AuditEventRow,
    MedicalHistoryRow,
    QuestionRow,
    UserRow,
    XRayRow,
)
from shared.enums import AuditObjectType, ResultStatus, UserType
from shared.models import Addendum, AuditEvent, XRay

# What every query that returns x-rays loads with them (their addenda, their signer).
XRAY_LOADS = (
    selectinload(XRayRow.addenda).selectinload(AddendumRow.author),
    selectinload(XRayRow.result_signer),
    selectinload(XRayRow.patient),  # its name and record number, against the file's
)


def addendum_out(row: AddendumRow) -> Addendum:
    return Addendum.model_validate(row)


def xray_out(row: XRayRow, viewer: UserRow) -> XRay:
    visible = result_visible(viewer, row)
    signer = row.result_signer
    return XRay(
        id=row.id,
        user_id=row.user_id,
        name_of_xray=row.name_of_xray,
        description_of_xray=row.description_of_xray,
        result_of_xray=row.result_of_xray if visible else None,
        result_final=row.result_final,
        result_status=row.result_status if visible else ResultStatus.none,
        result_signed_by=row.result_signed_by_id,
        result_signed_by_name=signer.full_name if signer is not None else None,
        result_signed_at=row.result_signed_at,
        addenda=[addendum_out(addendum) for addendum in row.addenda] if visible else [],
        type_of_xray=row.type_of_xray,
        image_of_xray=f"/api/xrays/{row.id}/image",
        thumbnail_url=f"/api/xrays/{row.id}/thumbnail",
        content_type=row.content_type,
        width=row.width,
        height=row.height,
        size_bytes=row.size_bytes,
        sha256=row.sha256,
        created_at=row.created_at,
        updated_at=row.updated_at,
        study_instance_uid=row.study_instance_uid,
        series_instance_uid=row.series_instance_uid,
        sop_instance_uid=row.sop_instance_uid,
        study_date=row.study_date,
        modality=row.modality,
        **(_file_patient(row) if viewer.usertype != UserType.patient else {}),
    )


def _file_patient(row: XRayRow) -> dict[str, Any]:
    """What a DICOM file says of its patient, and where that disagrees (staff only)."""
    return {
        "file_patient_id": row.file_patient_id,
        "file_patient_name": row.file_patient_name,
        "file_birth_date": row.file_birth_date,
        "identity_warnings": identity_warnings(row),
    }


# Where the name of an audited object is read: (table's id column, its name column).
_FILMS = (XRayRow.id, XRayRow.name_of_xray)
OBJECT_NAMES = {
    AuditObjectType.xray: _FILMS,
    AuditObjectType.xray_image: _FILMS,
    AuditObjectType.xray_thumbnail: _FILMS,
    AuditObjectType.question: (QuestionRow.id, QuestionRow.question_text),
    AuditObjectType.medical_history: (MedicalHistoryRow.id, MedicalHistoryRow.name_of_surgery),
    AuditObjectType.user: (UserRow.id, UserRow.full_name),
}
NAME_CHARS = 80


async def _object_names(
    db: AsyncSession, rows: Sequence[AuditEventRow]
) -> dict[tuple[AuditObjectType, int], str]:
    """The names of the objects a page of events is about, one query per kind of object."""
    wanted: dict[tuple[Any, Any], set[int]] = {}
    for row in rows:
        columns = OBJECT_NAMES.get(row.object_type)
        if columns is not None and row.object_id is not None:
            wanted.setdefault(columns, set()).add(row.object_id)
    found: dict[tuple[Any, Any], dict[int, str]] = {}
    for (id_column, name_column), ids in wanted.items():
        result = await db.execute(select(id_column, name_column).where(id_column.in_(ids)))
        found[(id_column, name_column)] = {
            object_id: " ".join(str(name).split())[:NAME_CHARS] for object_id, name in result
        }
    names = {}
    for row in rows:
        columns = OBJECT_NAMES.get(row.object_type)
        if columns is not None and row.object_id is not None:
            name = found.get(columns, {}).get(row.object_id)
            if name is not None:
                names[(row.object_type, row.object_id)] = name
    return names


async def audit_events_out(db: AsyncSession, rows: Sequence[AuditEventRow]) -> list[AuditEvent]:
    """Audit events with the names of the people (and the actor's role) and of the object
    they mention, read in a few queries for the page."""
    ids = {row.actor_id for row in rows} | {row.patient_id for row in rows}
    people = {
        user_id: (full_name, usertype)
        for user_id, full_name, usertype in await db.execute(
            select(UserRow.id, UserRow.full_name, UserRow.usertype).where(
                UserRow.id.in_([user_id for user_id in ids if user_id is not None])
            )
        )
    }
    objects = await _object_names(db, rows)
    events = []
    for row in rows:
        actor = people.get(row.actor_id) if row.actor_id is not None else None
        patient = people.get(row.patient_id) if row.patient_id is not None else None
        event = AuditEvent.model_validate(row)
        event.actor_name, event.actor_role = actor if actor else (None, None)
        event.patient_name = patient[0] if patient else None
        if row.object_id is not None:
            event.object_name = objects.get((row.object_type, row.object_id))
        events.append(event)
    return events
