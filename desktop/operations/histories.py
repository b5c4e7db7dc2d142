"""A patient's medical history."""

from desktop.models.paged import PageFetcher
from desktop.operations import OnError, OnSuccess, call
from desktop.runner import Task
from desktop.session import Session
from shared.models import MedicalHistoryCreate, MedicalHistoryUpdate


def of_patient(session: Session, patient_id: int) -> PageFetcher:
    return lambda cursor: session.api.histories(patient_id, cursor)


def add(
    session: Session,
    patient_id: int,
    name: str,
    description: str | None,
    on_success: OnSuccess,
    on_error: OnError,
) -> Task:
    body = MedicalHistoryCreate.model_construct(
        name_of_surgery=name, description_of_surgery=description
    )
    return call(session, lambda: session.api.add_history(patient_id, body), on_success, on_error)


def update(
    session: Session,
    history_id: int,
    name: str,
    description: str | None,
    on_success: OnSuccess,
    on_error: OnError,
) -> Task:
    body = MedicalHistoryUpdate.model_construct(
        name_of_surgery=name, description_of_surgery=description
    )
    return call(session, lambda: session.api.update_history(history_id, body), on_success, on_error)


def delete(session: Session, history_id: int, on_success: OnSuccess, on_error: OnError) -> Task:
    return call(session, lambda: session.api.delete_history(history_id), on_success, on_error)
