"""Turning a received file into a stored x-ray image: validate, thumbnail, place; then file it
under its patient (an x-ray) or, for a DICOM file whose PatientID matches no patient, in the
unmatched inbox. Every way a film arrives (upload, STOW-RS, C-STORE, inbox assignment, the demo
seed) goes through here, so all get the same checks, storage, audit and events.
"""

import asyncio
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from pydicom.uid import SecondaryCaptureImageStorage, generate_uid
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit import AuditTrail
from server.decoding import DecodeGate
from server.errors import Conflict
from server.imaging import ImageLimits, write_thumbnail
from server.orm import StoredInstance, UnmatchedRow, UserRow, XRayRow
from server.results import announce_arrival
from server.storage import ImageStore
from shared.enums import AuditAction, AuditObjectType, UserType, XRayType
from shared.imaging import (
    DicomIdentity,
    ImageHeader,
    ImageRejected,
    read_header,
    sniff_content_type,
)

XRAY = AuditObjectType.xray


@dataclass(slots=True)
class StoredImage:
    header: ImageHeader
    thumbnail_type: str
    # Files this call created; to be removed if the database row is not committed after all.
    created: list[Path] = field(default_factory=list)


def image_columns(
    stored: StoredImage, sha256: str, size_bytes: int, now: datetime
) -> dict[str, object]:
    """The columns that describe a stored image as a DICOM instance: a DICOM file's own UIDs
    and fields; for a PNG or JPEG, UIDs made now (then kept) and today as its study date."""
    identity = stored.header.identity
    columns: dict[str, object] = {
        "content_type": stored.header.content_type,
        "width": stored.header.width,
        "height": stored.header.height,
        "size_bytes": size_bytes,
        "sha256": sha256,
        "thumbnail_type": stored.thumbnail_type,
        "sop_instance_uid": generate_uid(),
        "study_instance_uid": generate_uid(),
        "series_instance_uid": generate_uid(),
        "sop_class_uid": SecondaryCaptureImageStorage,
        "study_date": now.date(),
        "modality": "OT",
    }
    if identity is not None:
        columns.update(
            {
                key: value
                for key, value in (
                    ("sop_instance_uid", identity.sop_instance_uid),
                    ("study_instance_uid", identity.study_instance_uid),
                    ("series_instance_uid", identity.series_instance_uid),
                    ("sop_class_uid", identity.sop_class_uid),
                )
                if value
            }
        )
        columns.update(
            study_date=dicom_date(identity.study_date),
            modality=_cut(identity.modality, 16),
            file_patient_id=_cut(identity.patient_id, 64),
            file_patient_name=_cut(identity.patient_name, 324),
            file_birth_date=_cut(identity.birth_date, 16),
        )
    return columns


def dicom_date(value: str | None) -> date | None:
    """A DA value (YYYYMMDD) as a date; None when absent or not a real date."""
    if value is None or len(value) != 8 or not value.isdigit():
        return None
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return None


def _cut(value: str | None, length: int) -> str | None:
    return value[:length] if value else None


async def store_image(
    store: ImageStore,
    gate: DecodeGate,
    limits: ImageLimits,
    temp_path: Path,
    head: bytes,
    sha256: str,
    header: ImageHeader | None = None,
) -> StoredImage:
    """Check `temp_path`'s header (read here unless the caller has it) against the limits,
    decode it (when the gate admits it) to validate it and write its thumbnail, and move both
    to their content addresses. Raises ImageRejected; nothing is left in storage if this
    raises."""
    if header is None:
        content_type = sniff_content_type(head)
        if content_type is None:
            raise ImageRejected("Only PNG, JPEG and DICOM images are accepted.")
        header = await asyncio.to_thread(read_header, temp_path, content_type)
    limits.check(header)
    thumbnail_temp = store.new_temp_path()
    try:
        kind = await gate.decode(
            header.decode_bytes, write_thumbnail, temp_path, header, thumbnail_temp
        )
    except BaseException:
        await asyncio.to_thread(thumbnail_temp.unlink, True)
        raise
    # Both moves in one trip to a thread: per film, each trip is a wake-up of the event loop
    # that a burst of arrivals pays many times over.
    return await asyncio.to_thread(_place, store, temp_path, thumbnail_temp, header, sha256, kind)


def _place(
    store: ImageStore,
    temp_path: Path,
    thumbnail_temp: Path,
    header: ImageHeader,
    sha256: str,
    thumbnail_type: str,
) -> StoredImage:
    stored = StoredImage(header=header, thumbnail_type=thumbnail_type)
    try:
        for temp, final in (
            (temp_path, store.original_path(sha256)),
            (thumbnail_temp, store.thumbnail_path(sha256, thumbnail_type)),
        ):
            if store.place(temp, final):
                stored.created.append(final)
    except BaseException:
        for path in stored.created:
            path.unlink(missing_ok=True)
        raise
    finally:
        thumbnail_temp.unlink(missing_ok=True)
    return stored


@dataclass(slots=True)
class Arrival:
    """A received file on its way in, and how it came."""

    path: Path
    head: bytes
    sha256: str
    size_bytes: int
    source: str  # "upload", "STOW-RS", "C-STORE from MODALITY at 10.0.0.7"
    uploader_id: int | None  # null: a machine sent it (C-STORE)


@dataclass(slots=True)
class FilmFields:
    """What the x-ray is called; a DICOM file that came without them is named from itself."""

    name: str
    xray_type: XRayType
    description: str | None = None


class AlreadyStored(Conflict):
    """The instance (its SOPInstanceUID) is already a live x-ray or waits in the inbox."""

    def __init__(self) -> None:
        super().__init__("This DICOM instance is already stored (same SOPInstanceUID).")


async def already_stored(db: AsyncSession, sop_instance_uid: str) -> bool:
    live = select(XRayRow.id).where(XRayRow.sop_instance_uid == sop_instance_uid, XRayRow.live())
    waiting = select(UnmatchedRow.id).where(UnmatchedRow.sop_instance_uid == sop_instance_uid)
    found = await db.scalar(select(func.count()).select_from(live.union_all(waiting).subquery()))
    return bool(found)


async def patient_for_file(db: AsyncSession, identity: DicomIdentity | None) -> UserRow | None:
    """The patient whose medical record number is the file's PatientID (any case)."""
    if identity is None or not identity.patient_id:
        return None
    return await db.scalar(
        select(UserRow).where(
            func.lower(UserRow.record_number) == identity.patient_id.strip().lower(),
            UserRow.usertype == UserType.patient,
        )
    )


BODY_PARTS = {
    "CHEST": XRayType.chest,
    "SKULL": XRayType.skull,
    "HEAD": XRayType.skull,
    "SPINE": XRayType.spine,
    "CSPINE": XRayType.spine,
    "TSPINE": XRayType.spine,
    "LSPINE": XRayType.spine,
    "ABDOMEN": XRayType.abdomen,
    "PELVIS": XRayType.pelvis,
    "HIP": XRayType.pelvis,
    "JAW": XRayType.dental,
    "TOOTH": XRayType.dental,
}
LIMBS = ("HAND", "WRIST", "ARM", "ELBOW", "SHOULDER", "KNEE", "LEG", "ANKLE", "FOOT", "FINGER")


def film_fields(body_part: str | None, description: str | None, modality: str | None) -> FilmFields:
    """A name and type for a film that came over DICOM, from its own description and body part."""
    part = (body_part or "").upper().replace(" ", "")
    xray_type = BODY_PARTS.get(part) or (
        XRayType.limb if any(limb in part for limb in LIMBS) else XRayType.other
    )
    name = description or f"{modality or 'DICOM'} {(body_part or 'film').lower()}"
    return FilmFields(name=name[:200], xray_type=xray_type)


def new_xray(
    instance: StoredInstance | dict[str, object],
    patient_id: int,
    uploader_id: int | None,
    fields: FilmFields,
) -> XRayRow:
    columns = instance if isinstance(instance, dict) else instance_values(instance)
    return XRayRow(
        user_id=patient_id,
        uploaded_by_id=uploader_id,
        name_of_xray=fields.name,
        description_of_xray=fields.description,
        type_of_xray=fields.xray_type,
        addenda=[],
        result_signer=None,
        **columns,
    )


INSTANCE_COLUMNS = (
    "content_type",
    "width",
    "height",
    "size_bytes",
    "sha256",
    "thumbnail_type",
    "sop_instance_uid",
    "study_instance_uid",
    "series_instance_uid",
    "sop_class_uid",
    "study_date",
    "modality",
    "file_patient_id",
    "file_patient_name",
    "file_birth_date",
)


def instance_values(instance: StoredInstance) -> dict[str, object]:
    return {column: getattr(instance, column) for column in INSTANCE_COLUMNS}


async def file_xray(
    db: AsyncSession,
    audit: AuditTrail,
    xray: XRayRow,
    *,
    by_patient: bool,
    detail: str | None = None,
) -> XRayRow:
    """Add a new x-ray with its audit event and its `xray.created` event (not committed)."""
    db.add(xray)
    await db.flush()
    audit.record(XRAY, xray.id, xray.user_id, action=AuditAction.create, detail=detail)
    await announce_arrival(db, xray, by_patient=by_patient)
    return xray


async def receive_instance(
    db: AsyncSession,
    audit: AuditTrail,
    stored: StoredImage,
    arrival: Arrival,
    now: datetime,
    *,
    patient: UserRow | None = None,
    fields: FilmFields | None = None,
) -> XRayRow | UnmatchedRow:
    """File a stored image: under `patient` when given (an upload), else under the patient
    whose record number is the file's PatientID, else in the unmatched inbox. AlreadyStored
    when its SOPInstanceUID is stored already. Audited; not committed."""
    columns = image_columns(stored, arrival.sha256, arrival.size_bytes, now)
    if await already_stored(db, str(columns["sop_instance_uid"])):
        raise AlreadyStored()
    identity = stored.header.identity
    owner = patient or await patient_for_file(db, identity)
    if owner is None:
        waiting = UnmatchedRow(
            source=arrival.source[:200],
            body_part=_cut(identity.body_part if identity else None, 64),
            description=_cut(identity.description if identity else None, 200),
            **columns,
        )
        db.add(waiting)
        await db.flush()
        audit.record(XRAY, None, None, action=AuditAction.create, detail="to the unmatched inbox")
        return waiting
    if fields is None:
        fields = film_fields(
            identity.body_part if identity else None,
            identity.description if identity else None,
            identity.modality if identity else None,
        )
    xray = new_xray(columns, owner.id, arrival.uploader_id, fields)
    xray.patient = owner
    by_patient = arrival.uploader_id == owner.id
    detail = None if arrival.source == "upload" else arrival.source
    return await file_xray(db, audit, xray, by_patient=by_patient, detail=detail)


async def remove_unreferenced(db: AsyncSession, sha256: str, created: list[Path]) -> None:
    """After a rollback: remove the files this arrival placed, unless a committed x-ray or
    inbox entry uses the same content (stored once by its hash)."""
    if not created:
        return
    xrays = select(XRayRow.id).where(XRayRow.sha256 == sha256)
    waiting = select(UnmatchedRow.id).where(UnmatchedRow.sha256 == sha256)
    found = await db.scalar(select(func.count()).select_from(xrays.union_all(waiting).subquery()))
    if not found:
        for path in created:
            await asyncio.to_thread(path.unlink, True)
