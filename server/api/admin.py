"""The admin console's API: accounts and the audit trail."""

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from aiohttp import web
from pydantic import Field
from sqlalchemy import select

from server.access import ADMIN_USER_FIELDS_REFUSED
from server.convert import audit_events_out
from server.endpoint import ADMIN, Context, endpoint, json_response, no_content
from server.errors import Conflict, NotFound
from server.keys import PASSWORDS
from server.orm import AuditEventRow, UserRow
from server.pagination import PageQuery, QueryBool, fetch_page
from server.search import user_matches
from server.sessions import revoke_user_sessions
from server.users import active_admin_count, create_user, give_record_number
from shared.base import Page
from shared.enums import AuditAction, AuditObjectType, UserType
from shared.models import AdminUserCreate, AdminUserUpdate, AuditEvent, User

routes = web.RouteTableDef()
USER = AuditObjectType.user


class UserQuery(PageQuery):
    usertype: UserType | None = None
    is_active: QueryBool | None = None
    q: Annotated[str, Field(max_length=200)] | None = None


class AuditQuery(PageQuery):
    actor_id: Annotated[int, Field(ge=1)] | None = None
    patient_id: Annotated[int, Field(ge=1)] | None = None
    action: AuditAction | None = None
    # medsys extension: a range of days (UTC), both included
    since: date | None = None
    until: date | None = None


def account_change(user: UserRow, body: AdminUserUpdate) -> str:
    """The change in words, for the trail: approved, reactivated, deactivated, role, edited."""
    if body.is_active is True and not user.is_active:
        return "approved" if user.status == "awaiting_approval" else "reactivated"
    if body.is_active is False and user.is_active:
        return "deactivated"
    if body.usertype is not None and body.usertype != user.usertype:
        return f"made {UserType(body.usertype).value}"
    return "edited"


def _patient_id(user: UserRow) -> int | None:
    return user.id if user.usertype == UserType.patient else None


def _patients_of(users: list[UserRow]) -> set[int]:
    return {user.id for user in users if user.usertype == UserType.patient}


@routes.get("/api/admin/users")
@endpoint(
    "All accounts, filtered by role, state and text",
    roles=ADMIN,
    query=UserQuery,
    response=Page[User],
    subject=USER,
)
async def list_users(ctx: Context) -> web.Response:
    query = ctx.query(UserQuery)
    statement = select(UserRow)
    if query.usertype is not None:
        statement = statement.where(UserRow.usertype == query.usertype)
    if query.is_active is not None:
        statement = statement.where(UserRow.is_active.is_(query.is_active))
    if query.q:
        statement = statement.where(user_matches(query.q))
    users, next_cursor = await fetch_page(ctx.db, statement, UserRow.id, query)
    ctx.audit.record_patients(USER, _patients_of(users))
    return json_response(
        Page[User](items=[User.model_validate(user) for user in users], next_cursor=next_cursor)
    )


@routes.post("/api/admin/users")
@endpoint(
    "Create an account of any role (active at once)",
    roles=ADMIN,
    body=AdminUserCreate,
    response=User,
    status=201,
    subject=USER,
    extra_responses={409: "The email is taken"},
)
async def add_user(ctx: Context) -> web.Response:
    body = await ctx.json_body(AdminUserCreate)
    user = await create_user(
        ctx.db,
        ctx.request.app[PASSWORDS],
        full_name=body.full_name,
        email=body.email,
        phone=body.phone,
        usertype=body.usertype,
        password=body.password,
        is_active=True,
    )
    ctx.audit.record(USER, user.id, _patient_id(user))
    return json_response(User.model_validate(user), status=201)


async def _load_user(ctx: Context) -> UserRow:
    user_id = ctx.path_id("id")
    user = await ctx.db.get(UserRow, user_id)
    if user is None:
        raise NotFound("There is no such user.")
    ctx.audit.about(USER, user.id, _patient_id(user))
    return user


@routes.get("/api/admin/users/{id}")
@endpoint("One account", roles=ADMIN, response=User, subject=USER)
async def get_user(ctx: Context) -> web.Response:
    user = await _load_user(ctx)
    ctx.audit.record(USER, user.id, _patient_id(user))
    return json_response(User.model_validate(user))


async def _guard_last_admin(ctx: Context, user: UserRow) -> None:
    if user.usertype == UserType.admin and user.is_active and await active_admin_count(ctx.db) <= 1:
        raise Conflict("This is the last active administrator; appoint another one first.")


@routes.patch("/api/admin/users/{id}")
@endpoint(
    "Change an account: name, phone, role, active (approving a doctor sets is_active)",
    roles=ADMIN,
    body=AdminUserUpdate,
    response=User,
    subject=USER,
    extra_responses={409: "Would leave no active administrator"},
)
async def update_user(ctx: Context) -> web.Response:
    user = await _load_user(ctx)
    body = await ctx.json_body(AdminUserUpdate, refused=ADMIN_USER_FIELDS_REFUSED)
    demoted = body.usertype is not None and body.usertype != user.usertype
    deactivated = body.is_active is False and user.is_active
    detail = account_change(user, body)
    if demoted or deactivated:
        await _guard_last_admin(ctx, user)
        # A changed role or a closed account takes effect on the very next request.
        await revoke_user_sessions(ctx.db, user.id, ctx.now)
    for name in body.model_fields_set:
        setattr(user, name, getattr(body, name))
    if "is_active" in body.model_fields_set:
        user.deactivated_at = None if user.is_active else (user.deactivated_at or ctx.now)
    give_record_number(user)  # one who becomes a patient gets one (or their old one back)
    await ctx.db.flush()
    ctx.audit.record(USER, user.id, _patient_id(user), detail=detail)
    return json_response(User.model_validate(user))


@routes.delete("/api/admin/users/{id}")
@endpoint(
    "Deactivate an account (its records are kept)",
    roles=ADMIN,
    status=204,
    subject=USER,
    extra_responses={409: "Would leave no active administrator"},
)
async def deactivate_user(ctx: Context) -> web.Response:
    user = await _load_user(ctx)
    await _guard_last_admin(ctx, user)
    user.is_active = False
    user.deactivated_at = user.deactivated_at or ctx.now
    await revoke_user_sessions(ctx.db, user.id, ctx.now)
    ctx.audit.record(USER, user.id, _patient_id(user), detail="deactivated")
    return no_content()


@routes.get("/api/admin/audit")
@endpoint(
    "The audit trail, newest first, filtered by actor, patient and action",
    roles=ADMIN,
    query=AuditQuery,
    response=Page[AuditEvent],
)
async def audit_trail(ctx: Context) -> web.Response:
    query = ctx.query(AuditQuery)
    statement = select(AuditEventRow)
    if query.actor_id is not None:
        statement = statement.where(AuditEventRow.actor_id == query.actor_id)
    if query.patient_id is not None:
        statement = statement.where(AuditEventRow.patient_id == query.patient_id)
    if query.action is not None:
        statement = statement.where(AuditEventRow.action == query.action)
    if query.since is not None:
        statement = statement.where(AuditEventRow.at >= datetime.combine(query.since, time(), UTC))
    if query.until is not None:
        next_day = datetime.combine(query.until, time(), UTC) + timedelta(days=1)
        statement = statement.where(AuditEventRow.at < next_day)
    events, next_cursor = await fetch_page(ctx.db, statement, AuditEventRow.id, query)
    items = await audit_events_out(ctx.db, events)
    return json_response(Page[AuditEvent](items=items, next_cursor=next_cursor))
