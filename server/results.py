"""The result lifecycle of an x-ray (docs/api.md, "Results"): none → preliminary (written,
not signed) → final (signed by a doctor, with time) → amended (addenda). A signed result is
never edited: what the patient was shown changes only by an addendum, with author and time."""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from server.errors import Conflict, invalid
from server.events.outbox import announce
from server.orm import AddendumRow, EventRow, UserRow, XRayRow
from shared.enums import EventType, ResultStatus
from shared.models import XRayUpdate

SIGNED = "This result is signed; it can only be added to with an addendum."
RESULT_FIELDS = frozenset({"result_of_xray", "result_final"})


def arrival_event(xray: XRayRow, *, by_patient: bool) -> EventRow:
    """A new film reaches every doctor's worklist; its patient hears of it unless they sent
    it themselves."""
    return EventRow(
        type=EventType.xray_created,
        object_type="xray",
        object_id=xray.id,
        patient_id=xray.user_id,
        doctor_id=None,
        all_doctors=True,
        to_patient=not by_patient,
        to_admins=False,
    )


def write_result(xray: XRayRow, text: str | None) -> None:
    if xray.result_final:
        raise Conflict(SIGNED)
    xray.result_of_xray = text
    written = text is not None and text.strip() != ""
    xray.result_status = ResultStatus.preliminary if written else ResultStatus.none


async def sign_result(db: AsyncSession, xray: XRayRow, doctor: UserRow, now: datetime) -> None:
    if xray.result_final:
        raise Conflict("This result is already signed.")
    if not (xray.result_of_xray or "").strip():
        raise invalid("result_of_xray", "Write the result before signing it.")
    xray.result_status = ResultStatus.final
    xray.result_signer = doctor
    xray.result_signed_by_id = doctor.id
    xray.result_signed_at = now
    await announce(
        db,
        EventType.xray_signed,
        "xray",
        xray.id,
        xray.user_id,
        all_doctors=True,
        to_patient=True,
    )


async def apply_result_update(
    db: AsyncSession, xray: XRayRow, body: XRayUpdate, doctor: UserRow, now: datetime
) -> bool:
    """PATCH's result fields: the text first, then `result_final` (true signs; false on a
    signed result is refused, on an unsigned one changes nothing). True when it signed."""
    if "result_of_xray" in body.model_fields_set:
        write_result(xray, body.result_of_xray)
    if "result_final" in body.model_fields_set:
        if body.result_final:
            await sign_result(db, xray, doctor, now)
            return True
        if xray.result_final:
            raise Conflict(SIGNED)
    return False


async def add_addendum(
    db: AsyncSession, xray: XRayRow, doctor: UserRow, text: str, now: datetime
) -> AddendumRow:
    if not xray.result_final:
        raise Conflict("Only a signed result takes addenda; edit the result itself until then.")
    addendum = AddendumRow(
        xray_id=xray.id, author_id=doctor.id, author=doctor, text=text, created_at=now
    )
    xray.addenda.append(addendum)
    xray.result_status = ResultStatus.amended
    await db.flush()
    await announce(
        db,
        EventType.xray_amended,
        "xray",
        xray.id,
        xray.user_id,
        all_doctors=True,
        to_patient=True,
    )
    return addendum
