"""Password hashing (argon2 through passlib) and signed access tokens (JWT, HS256)."""

import asyncio
import functools
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import jwt
from passlib.context import CryptContext

if TYPE_CHECKING:
    from server.settings import Settings

ALGORITHM = "HS256"


class PasswordHasher:
    """argon2id hashing; the work runs in a thread so the event loop keeps serving."""

    def __init__(self, memory_kib: int, time_cost: int) -> None:
        self._context = CryptContext(
            schemes=["argon2"], argon2__memory_cost=memory_kib, argon2__time_cost=time_cost
        )
        # Verified when the email is unknown, so that a wrong email costs as much as a wrong
        # password and the answer time does not tell which accounts exist.
        self._dummy_hash = self._context.hash(secrets.token_urlsafe(16))

    @classmethod
    def for_settings(cls, settings: "Settings") -> "PasswordHasher":
        return cls(settings.argon2_memory_kib, settings.argon2_time_cost)

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._context.hash, password)

    async def verify(self, password: str, password_hash: str | None) -> bool:
        if password_hash is None:
            await asyncio.to_thread(self._context.verify, password, self._dummy_hash)
            return False
        return bool(await asyncio.to_thread(self._context.verify, password, password_hash))


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: int
    session_id: str


def issue_token(secret_key: str, user_id: int, session_id: str, now: datetime, ttl: int) -> str:
    claims = {
        "sub": str(user_id),
        "jti": session_id,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl)).timestamp()),
    }
    return jwt.encode(claims, secret_key, algorithm=ALGORITHM)


def decode_token(secret_key: str, token: str, now: datetime) -> TokenClaims:
    """The claims of a valid, unexpired token; jwt.InvalidTokenError for anything else.

    Time is checked against the server's clock (`now`), the one the sessions use too.
    """
    token_claims, expires = _verified_claims(secret_key, token)
    if expires <= now.timestamp():
        raise jwt.ExpiredSignatureError("the token has expired")
    return token_claims


# Verifying a signature costs more than the rest of a cached read; a token's claims never
# change, so each live token is verified once. Only valid tokens are kept (a raised error is
# not cached), keyed by the token and the key that signed it; expiry is checked on every use.
@functools.lru_cache(maxsize=4096)
def _verified_claims(secret_key: str, token: str) -> tuple[TokenClaims, int]:
    claims = jwt.decode(
        token,
        secret_key,
        algorithms=[ALGORITHM],  # pinned: never let the token choose its algorithm
        options={"require": ["sub", "jti", "iat", "exp"], "verify_exp": False, "verify_iat": False},
    )
    try:
        return TokenClaims(user_id=int(claims["sub"]), session_id=str(claims["jti"])), int(
            claims["exp"]
        )
    except (TypeError, ValueError):
        raise jwt.InvalidTokenError("malformed claims") from None
