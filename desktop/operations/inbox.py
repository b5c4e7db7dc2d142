"""The unmatched inbox: films that arrived over DICOM for no known patient."""

from desktop.models.paged import PageFetcher
from desktop.operations import OnError, OnSuccess, call
from desktop.runner import Task
from desktop.session import Session
from shared.models import UnmatchedAssign, UnmatchedInstance


def entries(session: Session) -> PageFetcher:
    return session.api.unmatched


def thumbnail(session: Session, entry: UnmatchedInstance, on_success: OnSuccess) -> Task:
    return call(session, lambda: session.api.thumbnail(entry), on_success)


def assign(
    session: Session, entry_id: int, patient_id: int, on_success: OnSuccess, on_error: OnError
) -> Task:
    body = UnmatchedAssign.model_construct(patient_id=patient_id)
    return call(session, lambda: session.api.assign_unmatched(entry_id, body), on_success, on_error)


def discard(session: Session, entry_id: int, on_success: OnSuccess, on_error: OnError) -> Task:
    return call(session, lambda: session.api.discard_unmatched(entry_id), on_success, on_error)
