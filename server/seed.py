"""Demo data for `make run` and the screenshots: a small practice with a few records."""

import asyncio
import hashlib
import json
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit import AuditTrail
from server.db import utcnow
from server.decoding import DecodeGate
from server.demo_images import radiograph_pixels, write_dicom, write_jpeg, write_png
from server.ingest import (
    Arrival,
    FilmFields,
    StoredImage,
    image_columns,
    new_xray,
    receive_instance,
    store_image,
)
from server.orm import (
    MedicalHistoryRow,
    QuestionRow,
    ResponseRow,
    UserRow,
    XRayAnnotationsRow,
    XRayRow,
)
from server.security import PasswordHasher
from server.settings import Settings
from server.storage import ImageStore
from server.users import create_user
from shared.enums import AuditAction, QuestionStatus, ResultStatus, UserType, XRayType
from shared.imaging import sniff_content_type

DEMO_PASSWORD = "medsys-demo"


@dataclass(frozen=True, slots=True)
class DemoAccount:
    usertype: UserType
    full_name: str
    email: str
    phone: str


DEMO_ACCOUNTS = (
    DemoAccount(UserType.admin, "Ada Admin", "admin@medsys.example", "+1 555 0100"),
    DemoAccount(UserType.doctor, "Dr. Grace Hopper", "grace@medsys.example", "+1 555 0101"),
    DemoAccount(UserType.doctor, "Dr. Alan Turing", "alan@medsys.example", "+1 555 0102"),
    DemoAccount(UserType.patient, "Paula Patient", "paula@medsys.example", "+1 555 0200"),
    DemoAccount(UserType.patient, "Peter Patient", "peter@medsys.example", "+1 555 0201"),
)


async def _stored(
    store: ImageStore, settings: Settings, source: Path, head: bytes, sha256: str
) -> StoredImage:
    """A demo film through the ingest path's checks, thumbnail and storage. (Its own copies
    of the files, see ImageStore.hold, go with the store's temporary folder when it closes:
    nothing else arrives while the demo is seeded.)"""
    gate = DecodeGate(settings.max_decoded_bytes, 1)
    try:
        return await store_image(store, gate, settings.image_limits, source, head, sha256)
    finally:
        await asyncio.to_thread(gate.close)


async def _add_xray(
    db: AsyncSession,
    store: ImageStore,
    settings: Settings,
    source: Path,
    patient: UserRow,
    uploader: UserRow,
    name: str,
    xray_type: XRayType,
    result: str | None = None,
) -> XRayRow:
    data = await asyncio.to_thread(source.read_bytes)
    head = data[:132]
    assert sniff_content_type(head) is not None
    sha256 = hashlib.sha256(data).hexdigest()
    stored = await _stored(store, settings, source, head, sha256)
    fields = FilmFields(name, xray_type, f"{name}, taken at the practice.")
    columns = image_columns(stored, sha256, len(data), utcnow())
    xray = new_xray(columns, patient.id, uploader.id, fields)
    xray.result_of_xray = result
    xray.result_status = ResultStatus.preliminary if result else ResultStatus.none
    db.add(xray)
    await db.flush()
    return xray


async def seed_demo(db: AsyncSession, settings: Settings, passwords: PasswordHasher) -> bool:
    """Fill an empty database; False (and nothing changed) when it already holds users."""
    if await db.scalar(select(func.count()).select_from(UserRow)):
        return False
    store = ImageStore(settings.storage_dir)
    await asyncio.to_thread(store.prepare)
    try:
        await _fill(db, store, settings, passwords)
    finally:
        await asyncio.to_thread(store.close)
    return True


async def _fill(
    db: AsyncSession, store: ImageStore, settings: Settings, passwords: PasswordHasher
) -> None:
    users = {}
    for account in DEMO_ACCOUNTS:
        users[account.email] = await create_user(
            db,
            passwords,
            full_name=account.full_name,
            email=account.email,
            phone=account.phone,
            usertype=account.usertype,
            password=DEMO_PASSWORD,
            is_active=True,
        )
    grace, alan = users["grace@medsys.example"], users["alan@medsys.example"]
    paula, peter = users["paula@medsys.example"], users["peter@medsys.example"]

    sources = {}
    # Paula's film says who she is, as a film from the practice's x-ray machine does.
    paulas_dicom = partial(
        write_dicom, patient_name="Patient^Paula", patient_id=str(paula.record_number)
    )
    for name, writer, seed in (
        ("chest.dcm", paulas_dicom, 1),
        ("chest-2025.png", write_png, 2),
        ("hand.jpg", write_jpeg, 3),
    ):
        path = store.new_temp_path(suffix=name)
        await asyncio.to_thread(writer, path, radiograph_pixels(seed=seed))
        sources[name] = path
    chest = await _add_xray(
        db,
        store,
        settings,
        sources["chest.dcm"],
        paula,
        grace,
        "Chest PA",
        XRayType.chest,
        result="Lungs clear; no effusion. Heart size normal.",
    )
    # Signed, with the doctor's marks: what a patient sees once a result is given.
    chest.result_status = ResultStatus.final
    chest.result_signer = grace
    chest.result_signed_by_id = grace.id
    chest.result_signed_at = utcnow()
    db.add(
        XRayAnnotationsRow(
            xray_id=chest.id,
            author_id=grace.id,
            document=json.dumps(
                [
                    {"kind": "line", "points": [[95, 330], [417, 330]]},
                    {"kind": "angle", "points": [[150, 140], [256, 110], [362, 140]]},
                    {"kind": "arrow", "points": [[470, 560], [400, 500]]},
                    {"kind": "text", "points": [[330, 590]], "label": "Costophrenic angle sharp"},
                ]
            ),
        )
    )
    await _add_xray(
        db,
        store,
        settings,
        sources["chest-2025.png"],
        paula,
        paula,
        "Chest PA (last year)",
        XRayType.chest,
    )
    await _add_xray(
        db,
        store,
        settings,
        sources["hand.jpg"],
        peter,
        peter,
        "Left hand",
        XRayType.limb,
        result="Possible hairline fracture of the fifth metacarpal; compare with a second view.",
    )

    for patient, name, description in (
        (paula, "Appendectomy", "Laparoscopic, 2019; uneventful recovery."),
        (paula, "Physiotherapy for the right knee", "Twelve sessions, 2023."),
        (peter, "Tonsillectomy", "In childhood."),
    ):
        db.add(
            MedicalHistoryRow(
                user_id=patient.id,
                created_by_id=grace.id,
                name_of_surgery=name,
                description_of_surgery=description,
            )
        )
    answered = QuestionRow(
        patient_id=paula.id,
        doctor_id=grace.id,
        xray_id=chest.id,
        question_text="Is my chest x-ray normal? I still cough in the mornings.",
        status=QuestionStatus.answered,
    )
    db.add(answered)
    await db.flush()
    db.add(
        ResponseRow(
            question_id=answered.id,
            doctor_id=grace.id,
            response_text="The film is normal. If the cough lasts another two weeks, book a visit.",
        )
    )
    db.add_all(
        [
            QuestionRow(
                patient_id=paula.id,
                doctor_id=None,
                question_text="Can I take ibuprofen together with my blood pressure tablets?",
                status=QuestionStatus.pending,
            ),
            QuestionRow(
                patient_id=peter.id,
                doctor_id=alan.id,
                question_text="My left hand hurts after a fall. Should the x-ray be repeated?",
                status=QuestionStatus.pending,
            ),
        ]
    )
    await _add_unmatched(db, store, settings)
    await db.commit()


async def _add_unmatched(db: AsyncSession, store: ImageStore, settings: Settings) -> None:
    """A film from the x-ray machine for someone who is no patient here yet: the inbox's."""
    path = store.new_temp_path(suffix="walker.dcm")
    writer = partial(write_dicom, patient_name="Walker^Sam", patient_id="EXT-0457")
    await asyncio.to_thread(writer, path, radiograph_pixels(seed=4))
    data = await asyncio.to_thread(path.read_bytes)
    sha256 = hashlib.sha256(data).hexdigest()
    stored = await _stored(store, settings, path, data[:132], sha256)
    arrival = Arrival(path, data[:132], sha256, len(data), "C-STORE from DX-ROOM1", None)
    audit = AuditTrail(ip=None, action=AuditAction.create, subject=None)
    await receive_instance(db, audit, stored, arrival, utcnow())
    audit.flush_into(db)
