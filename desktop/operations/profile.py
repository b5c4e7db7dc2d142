"""The logged-in user's own account: profile and password."""

from desktop.operations import OnError, OnSuccess, call
from desktop.runner import Task
from desktop.session import Session
from shared.models import PasswordChange, ProfileUpdate


def load(session: Session, on_success: OnSuccess, on_error: OnError) -> Task:
    return call(session, session.api.profile, on_success, on_error)


def update(
    session: Session, changes: dict[str, str | None], on_success: OnSuccess, on_error: OnError
) -> Task:
    """Change only the fields in `changes` (full_name, phone)."""
    body = ProfileUpdate.model_construct(**changes)  # type: ignore[arg-type]
    return call(session, lambda: session.api.update_profile(body), on_success, on_error)


def change_password(
    session: Session, current: str, new: str, on_success: OnSuccess, on_error: OnError
) -> Task:
    body = PasswordChange.model_construct(current_password=current, new_password=new)
    return call(session, lambda: session.api.change_password(body), on_success, on_error)
