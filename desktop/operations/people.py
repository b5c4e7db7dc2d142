"""Accounts: finding patients, and the admin's management of users."""

from desktop.models.paged import PageFetcher
from desktop.operations import OnError, OnSuccess, call
from desktop.runner import Task
from desktop.session import Session
from shared.enums import UserType
from shared.models import AdminUserCreate, AdminUserUpdate


def patients(session: Session, text: str) -> PageFetcher:
    return lambda cursor: session.api.patients(text, cursor)


def users(session: Session, role: str | None, active: bool | None, text: str) -> PageFetcher:
    return lambda cursor: session.api.users(role, active, text, cursor)


def create(
    session: Session,
    full_name: str,
    email: str,
    phone: str,
    usertype: UserType,
    password: str,
    on_success: OnSuccess,
    on_error: OnError,
) -> Task:
    body = AdminUserCreate.model_construct(
        full_name=full_name, email=email, phone=phone, usertype=usertype, password=password
    )
    return call(session, lambda: session.api.create_user(body), on_success, on_error)


def update(
    session: Session,
    user_id: int,
    changes: dict[str, object],
    on_success: OnSuccess,
    on_error: OnError,
) -> Task:
    """Change only the fields in `changes` (full_name, phone, usertype, is_active)."""
    # Not validated here: the server's field errors are what the user is shown.
    body = AdminUserUpdate.model_construct(**changes)  # type: ignore[arg-type]

    return call(session, lambda: session.api.update_user(user_id, body), on_success, on_error)


def deactivate(session: Session, user_id: int, on_success: OnSuccess, on_error: OnError) -> Task:
    return call(session, lambda: session.api.deactivate_user(user_id), on_success, on_error)
