"""What waits for the user: the counts behind the tabs' badges."""

from desktop.api import all_pages
from desktop.operations import OnSuccess, call
from desktop.runner import Task
from desktop.session import Session
from shared.models import Question, XRay


def counts(session: Session, on_success: OnSuccess) -> Task:
    """The doctor's and admin's numbers (GET /api/counts; not a read of anyone's records)."""
    return call(session, session.api.counts, on_success)


def own_lists(session: Session, on_success: OnSuccess) -> Task:
    """A patient's own questions and films, whole: (questions, x-rays)."""
    api, me = session.api, session.user.id

    async def both() -> tuple[list[Question], list[XRay]]:
        questions = await all_pages(lambda cursor: api.questions(None, cursor))
        xrays = await all_pages(lambda cursor: api.xrays(me, cursor))
        return questions, xrays

    return call(session, both, on_success)
