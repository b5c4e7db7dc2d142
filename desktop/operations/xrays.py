"""X-rays: a patient's films, one film, its result, deleting, uploading, thumbnails."""

from pathlib import Path

from desktop.api import all_pages
from desktop.models.paged import PageFetcher
from desktop.operations import OnError, OnSuccess, call
from desktop.runner import Progress, Task
from desktop.session import Session
from shared.enums import XRayType
from shared.models import AddendumCreate, XRay, XRayUpdate, XRayUploadFields


def of_patient(session: Session, patient_id: int) -> PageFetcher:
    return lambda cursor: session.api.xrays(patient_id, cursor)


def every_of_patient(
    session: Session, patient_id: int, on_success: OnSuccess, on_error: OnError
) -> Task:
    """All of a patient's films at once (to compare one with another)."""

    async def job(_progress: Progress) -> list[XRay]:
        return await all_pages(lambda cursor: session.api.xrays(patient_id, cursor))

    return session.run(job, on_success, on_error)


def one(session: Session, xray_id: int, on_success: OnSuccess, on_error: OnError) -> Task:
    return call(session, lambda: session.api.xray(xray_id), on_success, on_error)


def thumbnail(session: Session, xray: XRay, on_success: OnSuccess) -> Task:
    """The thumbnail's bytes; a failure leaves the tile without a picture (nothing to say)."""

    return call(session, lambda: session.api.thumbnail(xray), on_success)


def save_result(
    session: Session, xray_id: int, text: str | None, on_success: OnSuccess, on_error: OnError
) -> Task:
    """Keep a preliminary result (not shown to the patient until it is signed)."""
    body = XRayUpdate.model_construct(result_of_xray=text)
    return call(session, lambda: session.api.update_xray(xray_id, body), on_success, on_error)


def sign_result(
    session: Session, xray_id: int, text: str | None, on_success: OnSuccess, on_error: OnError
) -> Task:
    """Save the text and sign it in one request: the result becomes final, the patient's."""
    body = XRayUpdate.model_construct(result_of_xray=text, result_final=True)
    return call(session, lambda: session.api.update_xray(xray_id, body), on_success, on_error)


def add_addendum(
    session: Session, xray_id: int, text: str, on_success: OnSuccess, on_error: OnError
) -> Task:
    body = AddendumCreate.model_construct(text=text)
    return call(session, lambda: session.api.add_addendum(xray_id, body), on_success, on_error)


def worklist(session: Session, result_status: str | None) -> PageFetcher:
    """Films to read: every unsigned result, oldest first."""
    return lambda cursor: session.api.worklist(result_status, cursor)


def delete(session: Session, xray_id: int, on_success: OnSuccess, on_error: OnError) -> Task:
    return call(session, lambda: session.api.delete_xray(xray_id), on_success, on_error)


def upload(
    session: Session,
    path: Path,
    name: str,
    xray_type: XRayType,
    description: str | None,
    patient_id: int | None,
    on_success: OnSuccess,
    on_error: OnError,
) -> Task:
    """Upload a file; the task reports progress (bytes sent) and may be cancelled."""
    fields = XRayUploadFields.model_construct(
        name_of_xray=name,
        type_of_xray=xray_type,
        description_of_xray=description,
        user_id=patient_id,
    )

    async def job(progress: Progress) -> XRay:
        return await session.api.upload_xray(path, fields, progress)

    return session.run(job, on_success, on_error)
