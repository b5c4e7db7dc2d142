"""The declaration every route handler is written with.

`@endpoint(roles=..., body=..., response=...)` wraps a handler taking a `Context`: it opens the
request's database session, authenticates and enforces the roles, commits the handler's work
together with its audit events, records refusals, and keeps the declaration for the OpenAPI
document.
"""

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.audit import ACTION_BY_METHOD, AuditTrail, Subject
from server.errors import (
    ApiError,
    BadRequest,
    Forbidden,
    NotFound,
    Unauthorized,
    database_unavailable,
)
from server.keys import (
    AUDIT_WRITER,
    CLOCK,
    EVENT_HUB,
    READ_ENGINE,
    READ_SESSIONMAKER,
    SESSIONMAKER,
    SETTINGS,
)
from server.orm import AuditEventRow, UserRow
from server.rawsql import Reader, driver_connection
from server.sessions import IDLE_MESSAGE, authenticate, check_session, revoke_session
from server.settings import Settings
from server.uploads import body_stalled
from shared.enums import AuditObjectType, AuditOutcome, UserType

log = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)
MAX_ID = 2**63 - 1
PATIENT = frozenset({UserType.patient})
DOCTOR = frozenset({UserType.doctor})
ADMIN = frozenset({UserType.admin})
STAFF = frozenset({UserType.doctor, UserType.admin})
ANY_USER = frozenset(UserType)
READ_METHODS = frozenset({"GET", "HEAD"})


@dataclass(slots=True)
class Context:
    """Everything a handler needs for one request."""

    request: web.Request
    sessionmaker: async_sessionmaker[AsyncSession]
    audit: AuditTrail
    now: datetime
    _user: UserRow | None = None
    session_id: str | None = None
    # A read's session whose last-seen time is to be refreshed along with its audit events.
    touch_session: bool = False
    _db: AsyncSession | None = None

    @property
    def db(self) -> AsyncSession:
        """The request's ORM session, opened when first used: the hottest reads go straight
        to the driver (server/rawsql.py) and never need one (opening and closing an unused
        session was 5 % of such a read)."""
        if self._db is None:
            self._db = self.sessionmaker()
        return self._db

    async def rollback(self) -> None:
        if self._db is not None:
            await self._db.rollback()

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()

    @property
    def user(self) -> UserRow:
        if self._user is None:
            raise RuntimeError("user requested on a public endpoint")
        return self._user

    @property
    def settings(self) -> Settings:
        return self.request.app[SETTINGS]

    def path_id(self, name: str) -> int:
        """An id from the path: an integer 1..2^63−1, anything else is 'no such object'."""
        raw = self.request.match_info[name]
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
            raise NotFound("There is no such object.")
        return int(raw)

    async def json_body(self, model: type[ModelT], refused: Iterable[str] = ()) -> ModelT:
        """The body parsed into `model`: 400 if it is not a JSON object, 403 if it sets a
        field of `refused` (known, but not the caller's to set), 422 if it does not validate."""
        try:
            async with asyncio.timeout(self.settings.body_timeout):
                raw = await self.request.read()
        except TimeoutError:
            raise body_stalled(self.settings.body_timeout) from None
        try:
            parsed = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise BadRequest("The body is not valid JSON.") from None
        if not isinstance(parsed, dict):
            raise BadRequest("The body must be a JSON object.")
        not_allowed = sorted(set(parsed) & set(refused))
        if not_allowed:
            raise Forbidden(f"Your role may not set: {', '.join(not_allowed)}.")
        try:
            return model.model_validate_json(raw)
        except ValidationError as error:
            # Python's json accepts what pydantic's parser does not (a lone surrogate, "\ud800"):
            # that is a body that is not valid JSON, not a field's mistake.
            if all(item["type"] == "json_invalid" for item in error.errors()):
                raise BadRequest("The body is not valid JSON.") from None
            raise

    async def commit(self) -> None:
        """Commit the request's work with its audit events. A read's events go to the group
        commit (server/groupcommit.py) once its own transaction has ended, so that the one
        SQLite connection is not held while they are written; either way this returns only
        once they are committed."""
        app = self.request.app
        if self.request.method in READ_METHODS:
            events = self.audit.take()
            # Ends the read: nothing to commit (its connection cannot write), and closing hands
            # the connection back without a trip to the database's thread. What the handler
            # loaded stays readable.
            await self.close()
            touch = None
            if self.touch_session and self.session_id is not None:
                touch = (self.session_id, self.now)
                self.touch_session = False
            await app[AUDIT_WRITER].write(events, touch)
        else:
            self.audit.flush_into(self.db)
            await self.db.commit()
        if self._db is not None and self._db.info.pop("announced", None):
            app[EVENT_HUB].wake()  # SQLite: this process is the only one to tell

    def reader(self) -> AbstractAsyncContextManager[Reader]:
        """A read connection's driver, for the hot reads written as RawQuery."""
        return driver_connection(self.request.app[READ_ENGINE])

    def query(self, model: type[ModelT]) -> ModelT:
        # Query values are strings by nature; the query models are lenient and parse them.
        return model.model_validate(dict(self.request.query))


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    """The declaration of one endpoint, read by the OpenAPI assembly."""

    summary: str
    roles: frozenset[UserType] | None
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: Any = None
    status: int = 200
    subject: AuditObjectType | None = None
    extra_responses: dict[int, str] = field(default_factory=dict)
    # A multipart/form-data body: these text fields and one file part of this name.
    form: type[BaseModel] | None = None
    form_file: str | None = None


# Answers that refuse access; each is audited. (422s and the like are the caller's mistakes.)
REFUSALS = frozenset({401, 403, 404, 429})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# What `endpoint(...)` returns: it turns a handler of a Context into an aiohttp handler.
Declaration = Callable[[Callable[["Context"], Awaitable[web.StreamResponse]]], Handler]
SPEC_ATTRIBUTE = "__medsys_endpoint__"


def endpoint_spec(handler: object) -> EndpointSpec | None:
    spec = getattr(handler, SPEC_ATTRIBUTE, None)
    return spec if isinstance(spec, EndpointSpec) else None


def endpoint(
    summary: str,
    *,
    roles: frozenset[UserType] | None,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: Any = None,
    status: int = 200,
    subject: AuditObjectType | None = None,
    extra_responses: dict[int, str] | None = None,
    form: type[BaseModel] | None = None,
    form_file: str | None = None,
) -> Callable[[Callable[[Context], Awaitable[web.StreamResponse]]], Handler]:
    """Declare a route handler. `roles=None` makes it public; `subject` names what the route
    is about, so that a refused attempt is audited even before the handler has run."""
    spec = EndpointSpec(
        summary,
        roles,
        body,
        query,
        response,
        status,
        subject,
        extra_responses or {},
        form,
        form_file,
    )

    def wrap(function: Callable[[Context], Awaitable[web.StreamResponse]]) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            return await _run(spec, function, request)

        setattr(handler, SPEC_ATTRIBUTE, spec)
        handler.__name__ = function.__name__
        handler.__doc__ = function.__doc__
        return handler

    return wrap


def _default_subject(spec: EndpointSpec, request: web.Request) -> Subject | None:
    if spec.subject is None:
        return None
    object_id = None
    for raw in request.match_info.values():
        if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_ID:
            object_id = int(raw)
            break
    return Subject(spec.subject, object_id)


def client_address(request: web.Request, trusted_proxies: frozenset[str]) -> str:
    """The client's address: the peer's, or behind a trusted proxy the last address the proxy
    chain added that is not itself a trusted proxy (earlier entries can be forged)."""
    address = request.remote or "unknown"
    if address not in trusted_proxies:
        return address
    forwarded = [
        hop.strip()
        for header in request.headers.getall("X-Forwarded-For", [])
        for hop in header.split(",")
        if hop.strip()
    ]
    for hop in reversed(forwarded):
        if hop not in trusted_proxies:
            return hop[:64]
    return address


async def _run(
    spec: EndpointSpec,
    function: Callable[[Context], Awaitable[web.StreamResponse]],
    request: web.Request,
) -> web.StreamResponse:
    app = request.app
    audit = AuditTrail(
        ip=client_address(request, app[SETTINGS].trusted_proxies),
        action=ACTION_BY_METHOD.get(request.method, ACTION_BY_METHOD["GET"]),
        subject=_default_subject(spec, request),
    )
    reading = request.method in READ_METHODS
    # Reads run on their own connections (SQLite: read-only ones beside the one writer) and
    # write only through the group commit; everything else on the writer's.
    context = Context(
        request=request,
        sessionmaker=app[READ_SESSIONMAKER if reading else SESSIONMAKER],
        audit=audit,
        now=app[CLOCK](),
    )
    try:
        if spec.roles is not None:
            authorization = request.headers.get("Authorization")
            if reading:
                user, session_id = await _authenticate_read(context, authorization)
            else:
                user, session_id = await authenticate(
                    context.db, app[READ_ENGINE], app[SETTINGS], authorization, context.now
                )
            context._user, context.session_id = user, session_id
            audit.actor_id = user.id
            if user.usertype not in spec.roles:
                raise Forbidden("Your role may not use this endpoint.")
        response = await function(context)
        await context.commit()
        return response
    except ApiError as error:
        await context.rollback()
        if error.status in REFUSALS:
            await _record_refusal(context, AuditOutcome.denied)
        raise
    except ValidationError:
        await context.rollback()
        raise
    except Exception as error:
        await context.rollback()
        # With the database out of reach, the trail cannot be written either.
        if not database_unavailable(error, request):
            await _record_refusal(context, AuditOutcome.error)
        raise
    finally:
        await context.close()


async def _authenticate_read(context: Context, authorization: str | None) -> tuple[UserRow, str]:
    """`authenticate` for a read, whose connection writes nothing: an idle session is revoked
    on the writer's connection, a stale last-seen time is refreshed by the group commit."""
    app = context.request.app
    check = await check_session(app[READ_ENGINE], app[SETTINGS], authorization, context.now)
    if check.idle:
        async with app[SESSIONMAKER]() as writer:
            await revoke_session(writer, check.session_id, context.now)
            await writer.commit()
        raise Unauthorized(IDLE_MESSAGE)
    context.touch_session = check.stale
    return check.user, check.session_id


async def _record_refusal(context: Context, outcome: AuditOutcome) -> None:
    event = context.audit.refusal(outcome)
    if event is None:
        return
    try:
        if context.request.method in READ_METHODS:
            await context.request.app[AUDIT_WRITER].write([event])
            return
        context.db.add(AuditEventRow(**event))
        await context.db.commit()
    except Exception:
        # The answer to the client must not change because the trail could not be written;
        # the failure is logged for the operator instead.
        log.exception("could not write the audit event of a refused request")
        await context.rollback()


def json_response(body: BaseModel, status: int = 200) -> web.Response:
    return web.Response(status=status, text=body.model_dump_json(), content_type="application/json")


def no_content() -> web.Response:
    return web.Response(status=204)
