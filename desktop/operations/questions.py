"""Questions: the lists, a thread, asking and answering."""

from desktop.api import all_pages
from desktop.models.paged import PageFetcher
from desktop.operations import OnError, OnSuccess, call
from desktop.runner import Progress, Task
from desktop.session import Session
from shared.models import DoctorSummary, QuestionCreate, ResponseCreate, XRay


def mine(session: Session, status: str | None) -> PageFetcher:
    """A patient's own questions (a doctor's: those assigned to them), newest first."""
    return lambda cursor: session.api.questions(status, cursor)


def pending(session: Session) -> PageFetcher:
    """The queue: pending questions for the doctor or for no one, oldest first."""
    return session.api.pending_questions


def with_patient(session: Session, patient_id: int) -> PageFetcher:
    """The questions a patient asked the logged-in doctor."""
    doctor_id = session.user.id
    return lambda cursor: session.api.conversation(doctor_id, patient_id, cursor)


def ask(
    session: Session,
    text: str,
    doctor_id: int | None,
    xray_id: int | None,
    on_success: OnSuccess,
    on_error: OnError,
) -> Task:
    body = QuestionCreate.model_construct(question_text=text, doctor_id=doctor_id, xray_id=xray_id)
    return call(session, lambda: session.api.ask(body), on_success, on_error)


def answer(
    session: Session, question_id: int, text: str, on_success: OnSuccess, on_error: OnError
) -> Task:
    body = ResponseCreate.model_construct(response_text=text)
    return call(session, lambda: session.api.answer(question_id, body), on_success, on_error)


def choices_for_asking(session: Session, on_success: OnSuccess, on_error: OnError) -> Task:
    """(doctors, the patient's own x-rays): whom a question may go to, what it may be about."""

    async def job(_progress: Progress) -> tuple[list[DoctorSummary], list[XRay]]:
        doctors = await all_pages(session.api.doctors)
        xrays = await all_pages(lambda cursor: session.api.xrays(session.user.id, cursor))
        return doctors, xrays

    return session.run(job, on_success, on_error)


def claim(session: Session, question_id: int, on_success: OnSuccess, on_error: OnError) -> Task:
    """Take an unassigned question: it leaves the other doctors' queues."""
    return call(session, lambda: session.api.claim(question_id), on_success, on_error)
