"""The caller's own account: profile, password, and who looked at their records."""

from aiohttp import web
from sqlalchemy import or_, select

from server.access import PROFILE_FIELDS_REFUSED
from server.convert import audit_events_out
from server.endpoint import ANY_USER, PATIENT, Context, endpoint, json_response, no_content
from server.errors import invalid
from server.keys import PASSWORDS
from server.orm import AuditEventRow
from server.pagination import PageQuery, fetch_page
from server.sessions import revoke_user_sessions
from shared.base import Page
from shared.enums import AuditObjectType
from shared.models import AuditEvent, PasswordChange, ProfileUpdate, User

routes = web.RouteTableDef()


@routes.get("/api/profile")
@endpoint("The caller's own account", roles=ANY_USER, response=User)
async def get_profile(ctx: Context) -> web.Response:
    return json_response(User.model_validate(ctx.user))


@routes.patch("/api/profile")
@endpoint("Change the caller's name or phone", roles=ANY_USER, body=ProfileUpdate, response=User)
async def update_profile(ctx: Context) -> web.Response:
    body = await ctx.json_body(ProfileUpdate, refused=PROFILE_FIELDS_REFUSED)
    for name in body.model_fields_set:
        setattr(ctx.user, name, getattr(body, name))
    await ctx.db.flush()
    ctx.audit.record(AuditObjectType.user, ctx.user.id, None)
    return json_response(User.model_validate(ctx.user))


@routes.post("/api/profile/password")
@endpoint(
    "Change the caller's password; their other sessions end",
    roles=ANY_USER,
    body=PasswordChange,
    status=204,
)
async def change_password(ctx: Context) -> web.Response:
    body = await ctx.json_body(PasswordChange)
    passwords = ctx.request.app[PASSWORDS]
    if not await passwords.verify(body.current_password, ctx.user.password_hash):
        raise invalid("current_password", "The current password is wrong.")
    ctx.user.password_hash = await passwords.hash(body.new_password)
    await revoke_user_sessions(ctx.db, ctx.user.id, ctx.now, keep=ctx.session_id)
    ctx.audit.record(AuditObjectType.user, ctx.user.id, None)
    return no_content()


@routes.get("/api/profile/access_log")
@endpoint(
    "Who accessed the caller's records (patients only)",
    roles=PATIENT,
    query=PageQuery,
    response=Page[AuditEvent],
)
async def access_log(ctx: Context) -> web.Response:
    page = ctx.query(PageQuery)
    statement = select(AuditEventRow).where(
        AuditEventRow.patient_id == ctx.user.id,
        or_(AuditEventRow.actor_id.is_(None), AuditEventRow.actor_id != ctx.user.id),
    )
    events, next_cursor = await fetch_page(ctx.db, statement, AuditEventRow.id, page)
    items = await audit_events_out(ctx.db, events)
    return json_response(Page[AuditEvent](items=items, next_cursor=next_cursor))
