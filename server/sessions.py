"""Login sessions: issuing tokens, checking them on every request, revoking them."""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from sqlalchemy import bindparam, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from server.errors import Unauthorized
from server.orm import SessionRow, UserRow
from server.rawsql import RawQuery, driver_connection
from server.security import decode_token, issue_token
from server.settings import Settings


async def open_session(db: AsyncSession, settings: Settings, user: UserRow, now: datetime) -> str:
    """Create a session for the user and return its signed access token."""
    session_id = secrets.token_urlsafe(24)
    db.add(
        SessionRow(
            id=session_id,
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(seconds=settings.token_ttl),
        )
    )
    return issue_token(settings.secret_key, user.id, session_id, now, settings.token_ttl)


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthorized("Authentication is required: send 'Authorization: Bearer <token>'.")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("The Authorization header must be 'Bearer <token>'.")
    return token.strip()


def _touch_interval(settings: Settings) -> timedelta:
    # Writing last_seen_at on every request would make every read a write; refreshing it at a
    # fraction of the idle timeout keeps the timeout accurate to within that fraction (it can
    # only end a session early, never late).
    return timedelta(seconds=min(60.0, settings.idle_timeout / 10))


IDLE_MESSAGE = "The session timed out after inactivity; please log in again."


@dataclass(frozen=True, slots=True)
class SessionCheck:
    """A bearer token's session and user, found valid but for what needs a write."""

    user: UserRow
    session_id: str
    idle: bool  # timed out: to be revoked, and the request refused
    stale: bool  # its last-seen time to be refreshed


async def authenticate(
    db: AsyncSession,
    reads: AsyncEngine,
    settings: Settings,
    authorization: str | None,
    now: datetime,
) -> tuple[UserRow, str]:
    """The user and session id behind a bearer token, or Unauthorized; revokes an idle
    session and refreshes the last-seen time in `db`'s transaction, in which the user is
    then loaded (a handler may change it)."""
    check = await check_session(reads, settings, authorization, now)
    if check.idle:
        await revoke_session(db, check.session_id, now)
        await db.commit()
        raise Unauthorized(IDLE_MESSAGE)
    if check.stale:
        await db.execute(
            update(SessionRow).where(SessionRow.id == check.session_id).values(last_seen_at=now)
        )
    db.add(check.user)
    return check.user, check.session_id


# Every column of the user (so that it is whole, as if the ORM had loaded it) and what decides
# whether the session may act: the one read every authenticated request makes.
SESSION_AND_USER = RawQuery(
    select(
        SessionRow.revoked_at.label("session_revoked_at"),
        SessionRow.expires_at.label("session_expires_at"),
        SessionRow.last_seen_at.label("session_last_seen_at"),
        *(getattr(UserRow, attribute.key) for attribute in inspect(UserRow).column_attrs),
    )
    .join(UserRow, UserRow.id == SessionRow.user_id)
    .where(SessionRow.id == bindparam("session_id"), SessionRow.user_id == bindparam("user_id"))
)


async def check_session(
    reads: AsyncEngine, settings: Settings, authorization: str | None, now: datetime
) -> SessionCheck:
    """Reads only: Unauthorized unless the token's session may act (or has just gone idle).
    The user comes detached from any database session."""
    token = bearer_token(authorization)
    try:
        claims = decode_token(settings.secret_key, token, now)
    except jwt.InvalidTokenError:
        raise Unauthorized("The access token is invalid or has expired.") from None
    async with driver_connection(reads) as reader:
        row = await SESSION_AND_USER.one_or_none(
            reader, session_id=claims.session_id, user_id=claims.user_id
        )
    if row is None:
        raise Unauthorized("The session is unknown.")
    revoked_at = row.pop("session_revoked_at")
    expires_at = row.pop("session_expires_at")
    last_seen_at = row.pop("session_last_seen_at")
    if revoked_at is not None:
        raise Unauthorized("The session has ended; please log in again.")
    if not row["is_active"]:
        raise Unauthorized("The account is not active.")
    if now >= expires_at:
        raise Unauthorized("The session has expired; please log in again.")
    user = UserRow(**row)
    make_transient_to_detached(user)  # as if loaded: no pending changes, an identity
    unseen_for = now - last_seen_at
    return SessionCheck(
        user,
        claims.session_id,
        idle=unseen_for >= timedelta(seconds=settings.idle_timeout),
        stale=unseen_for >= _touch_interval(settings),
    )


async def live_sessions(
    db: AsyncSession, settings: Settings, session_ids: set[str], now: datetime
) -> set[str]:
    """Which of these sessions may still act (not revoked, expired or idle, their user active).

    Reads only: an open event socket is not a request, so it does not keep a session alive."""
    if not session_ids:
        return set()
    idle_since = now - timedelta(seconds=settings.idle_timeout)
    rows = await db.execute(
        select(SessionRow.id)
        .join(UserRow, UserRow.id == SessionRow.user_id)
        .where(
            SessionRow.id.in_(session_ids),
            SessionRow.revoked_at.is_(None),
            SessionRow.expires_at > now,
            SessionRow.last_seen_at > idle_since,
            UserRow.is_active.is_(True),
        )
    )
    return {session_id for (session_id,) in rows}


async def revoke_session(db: AsyncSession, session_id: str, now: datetime) -> None:
    await db.execute(
        update(SessionRow)
        .where(SessionRow.id == session_id, SessionRow.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def revoke_user_sessions(
    db: AsyncSession, user_id: int, now: datetime, keep: str | None = None
) -> None:
    """End every session of a user (but `keep`, the caller's own, where given)."""
    statement = (
        update(SessionRow)
        .where(SessionRow.user_id == user_id, SessionRow.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    if keep is not None:
        statement = statement.where(SessionRow.id != keep)
    await db.execute(statement)
