"""Login throttling, kept in the database so that every server process sees the same counts."""

import math
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.errors import TooManyRequests
from server.orm import LoginFailureRow
from server.settings import Settings


async def check_login_allowed(
    db: AsyncSession, settings: Settings, email_key: str, ip: str, now: datetime
) -> None:
    """429 with Retry-After while the account or the address has too many recent failures."""
    window = timedelta(seconds=settings.login_window_seconds)
    for column, value, limit in (
        (LoginFailureRow.email_key, email_key, settings.login_failures_per_email),
        (LoginFailureRow.ip, ip, settings.login_failures_per_address),
    ):
        recent = (
            await db.scalars(
                select(LoginFailureRow.at)
                .where(column == value, LoginFailureRow.at > now - window)
                .order_by(LoginFailureRow.at.desc())
                .limit(limit)
            )
        ).all()
        if len(recent) >= limit:
            # Allowed again once the limit-th most recent failure leaves the window.
            retry_after = recent[-1] + window - now
            raise TooManyRequests(
                "Too many failed logins; try again later.",
                retry_after=math.ceil(retry_after.total_seconds()),
            )


def record_login_failure(db: AsyncSession, email_key: str, ip: str, now: datetime) -> None:
    db.add(LoginFailureRow(email_key=email_key, ip=ip, at=now))


async def clear_login_failures(db: AsyncSession, email_key: str) -> None:
    await db.execute(delete(LoginFailureRow).where(LoginFailureRow.email_key == email_key))
