"""Who may see and change what: every visibility rule of the API in one place.

Handlers load an object, name it to the audit trail, then ask here. A refusal is raised as
the status the contract gives (403 for a role or a wrong patient id, 404 where even the
existence of the object must not be revealed).
"""

from typing import Protocol, TypeVar

from sqlalchemy import ColumnElement, and_, func, true
from sqlalchemy.ext.asyncio import AsyncSession

from server.errors import Forbidden, NotFound
from server.orm import MedicalHistoryRow, QuestionRow, UserRow, XRayRow
from shared.enums import UserType

NOT_FOUND = "There is no such object."


def is_staff(user: UserRow) -> bool:
    return user.usertype in (UserType.doctor, UserType.admin)


# --- patients' records ----------------------------------------------------------------


def require_patient_records(user: UserRow, patient_id: int) -> None:
    """A patient reads only their own records; doctors and admins read anyone's."""
    if user.usertype == UserType.patient and user.id != patient_id:
        raise Forbidden("You may only see your own records.")


async def load_patient(db: AsyncSession, patient_id: int) -> UserRow:
    """The patient with this id; 404 when there is none (or the id is not a patient's)."""
    patient = await db.get(UserRow, patient_id)
    if patient is None or patient.usertype != UserType.patient:
        raise NotFound("There is no such patient.")
    return patient


async def patient_list_subject(user: UserRow, db: AsyncSession, patient_id: int) -> None:
    """A list of one patient's records: 403 for another patient, 404 when the id is no
    patient's."""
    require_patient_records(user, patient_id)
    await load_patient(db, patient_id)


def require_xray_visible(user: UserRow, xray: XRayRow | None) -> XRayRow:
    if xray is None or xray.is_deleted:
        raise NotFound(NOT_FOUND)
    if user.usertype == UserType.patient and xray.user_id != user.id:
        raise NotFound(NOT_FOUND)
    return xray


def result_visible(viewer: UserRow, xray: XRayRow) -> bool:
    """Staff see the result as it is written; the patient (its marks and addenda too) once a
    doctor signed it."""
    return viewer.usertype != UserType.patient or xray.result_final


def require_upload_for(user: UserRow, requested_patient_id: str | None) -> None:
    """A patient uploads only their own films: naming another patient is a 403 (checked on
    the raw field, before the form is validated, as the contract orders)."""
    if user.usertype != UserType.patient or requested_patient_id is None:
        return
    if requested_patient_id.strip() != str(user.id):
        raise Forbidden("You may only upload x-rays of your own.")


def own_xray_to_ask_about(user: UserRow, xray: XRayRow | None) -> bool:
    """A question may be about one of the asking patient's own (live) films only."""
    return xray is not None and not xray.is_deleted and xray.user_id == user.id


# Fields that exist on the object but are not the caller's to set (403), by endpoint.
PROFILE_FIELDS_REFUSED = ("email", "usertype", "is_active")  # PATCH /api/profile
ADMIN_USER_FIELDS_REFUSED = ("email",)  # PATCH /api/admin/users/{id}


def xray_fields_for(user: UserRow, xray: XRayRow) -> set[str]:
    """The x-ray fields the user may change: doctors write the result (an admin is no
    clinician), the owner the rest."""
    if user.usertype == UserType.doctor:
        return {"result_of_xray", "result_final"}
    if xray.user_id == user.id:
        return {"name_of_xray", "description_of_xray", "type_of_xray"}
    return set()


def require_history_visible(history: MedicalHistoryRow | None) -> MedicalHistoryRow:
    # Only staff reach the routes that take a history id; a deleted one is gone for them too.
    if history is None or history.is_deleted:
        raise NotFound(NOT_FOUND)
    return history


# --- questions ------------------------------------------------------------------------


class QuestionParties(Protocol):
    """What decides who sees a question: a row, or a question read as columns."""

    @property
    def patient_id(self) -> int: ...

    @property
    def doctor_id(self) -> int | None: ...


QuestionT = TypeVar("QuestionT", bound=QuestionParties)


def question_visible(user: UserRow, question: QuestionParties) -> bool:
    if user.usertype == UserType.admin:
        return True
    if user.usertype == UserType.patient:
        return question.patient_id == user.id
    return question.doctor_id in (user.id, None)


def require_question_visible(user: UserRow, question: QuestionT | None) -> QuestionT:
    if question is None or not question_visible(user, question):
        raise NotFound(NOT_FOUND)
    return question


def questions_listed_for(user: UserRow) -> ColumnElement[bool]:
    """GET /api/questions: patients their own, doctors those assigned to them, admins all."""
    if user.usertype == UserType.patient:
        return QuestionRow.patient_id == user.id
    if user.usertype == UserType.doctor:
        return QuestionRow.doctor_id == user.id
    return true()


def pending_questions_for(user: UserRow) -> ColumnElement[bool]:
    """The queue: pending questions assigned to the doctor or to no one (admins: all)."""
    pending = QuestionRow.pending()
    if user.usertype == UserType.admin:
        return and_(pending)
    # "Assigned to me or to no one" as one expression, which no index serves: SQLite would
    # otherwise gather both through the doctor_id index and sort them, rather than walk the
    # pending index in id order and stop after a page.
    return and_(pending, func.coalesce(QuestionRow.doctor_id, user.id) == user.id)


def require_conversation_party(user: UserRow, doctor_id: int, patient_id: int) -> None:
    """Only that doctor, that patient, or an admin may read the questions between them."""
    if user.usertype == UserType.admin:
        return
    if user.usertype == UserType.doctor and user.id == doctor_id:
        return
    if user.usertype == UserType.patient and user.id == patient_id:
        return
    raise Forbidden("You may only see your own conversations.")
