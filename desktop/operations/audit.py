"""The audit trail (admins) and a patient's access log."""

from desktop.models.paged import PageFetcher
from desktop.session import Session


def trail(
    session: Session, actor_id: int | None, patient_id: int | None, action: str | None
) -> PageFetcher:
    return lambda cursor: session.api.audit(actor_id, patient_id, action, cursor)


def access_log(session: Session) -> PageFetcher:
    return session.api.access_log
