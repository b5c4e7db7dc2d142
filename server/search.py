"""Text search over users, shared by the patient directory and the admin user list."""

from sqlalchemy import ColumnElement, func, or_

from server.orm import UserRow


def user_matches(text: str) -> ColumnElement[bool]:
    """Case-insensitive substring match on name, email or phone (LIKE wildcards escaped), or
    the patient whose medical record number is the text."""
    needle = text.strip().lower()
    return or_(
        func.lower(UserRow.record_number) == needle,
        func.lower(UserRow.full_name).contains(needle, autoescape=True),
        UserRow.email_key.contains(needle, autoescape=True),
        func.lower(func.coalesce(UserRow.phone, "")).contains(needle, autoescape=True),
    )
