"""Creating accounts, shared by registration, the admin console, the CLI and the demo seed."""

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.errors import Conflict
from server.orm import UserRow
from server.security import PasswordHasher
from shared.enums import UserType


def email_key(email: str) -> str:
    """Emails compare case-insensitively everywhere; this is the form they are compared in."""
    return email.strip().lower()


async def find_by_email(db: AsyncSession, email: str) -> UserRow | None:
    return await db.scalar(select(UserRow).where(UserRow.email_key == email_key(email)))


async def create_user(
    db: AsyncSession,
    passwords: PasswordHasher,
    *,
    full_name: str,
    email: str,
    phone: str | None,
    usertype: UserType,
    password: str,
    is_active: bool,
) -> UserRow:
    """Insert a user (flushed, not committed); Conflict when the email is taken."""
    if await find_by_email(db, email) is not None:
        raise Conflict("An account with this email address already exists.")
    user = UserRow(
        full_name=full_name,
        email=email,
        email_key=email_key(email),
        phone=phone,
        usertype=usertype,
        is_active=is_active,
        password_hash=await passwords.hash(password),
    )
    db.add(user)
    try:
        await db.flush()
    except IntegrityError:
        # Two registrations of one address at once: the unique index decided.
        raise Conflict("An account with this email address already exists.") from None
    give_record_number(user)
    return user


def give_record_number(user: UserRow) -> None:
    """A patient's medical record number, made from the account's id (unique, never reused:
    ids are not); kept when the account stops being a patient's, so it is never given twice."""
    if user.usertype == UserType.patient and user.record_number is None:
        user.record_number = f"M{user.id:07d}"


async def active_admin_count(db: AsyncSession) -> int:
    """Active admins, their rows locked (PostgreSQL) so that two admins removing each other
    at once cannot both pass the last-admin check."""
    admin_ids = await db.scalars(
        select(UserRow.id)
        .where(UserRow.usertype == UserType.admin, UserRow.is_active.is_(True))
        .with_for_update()
    )
    return len(admin_ids.all())
