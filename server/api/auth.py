"""Registration, login, logout."""

from aiohttp import web

from server.endpoint import ANY_USER, Context, endpoint, json_response, no_content
from server.errors import Forbidden, Unauthorized
from server.events.outbox import announce
from server.keys import PASSWORDS
from server.sessions import open_session, revoke_session
from server.throttle import check_login_allowed, clear_login_failures, record_login_failure
from server.users import create_user, email_key, find_by_email
from shared.enums import AuditAction, AuditObjectType, AuditOutcome, EventType, UserType
from shared.models import LoginRequest, LoginResponse, RegisterRequest, User, UserEnvelope

routes = web.RouteTableDef()


@routes.post("/api/register")
@endpoint(
    "Register a patient (active at once) or a doctor (inactive until an admin approves)",
    roles=None,
    body=RegisterRequest,
    response=UserEnvelope,
    status=201,
    extra_responses={409: "The email is taken"},
)
async def register(ctx: Context) -> web.Response:
    body = await ctx.json_body(RegisterRequest)
    usertype = UserType(body.usertype)
    user = await create_user(
        ctx.db,
        ctx.request.app[PASSWORDS],
        full_name=body.full_name,
        email=body.email,
        phone=body.phone,
        usertype=usertype,
        password=body.password,
        is_active=usertype == UserType.patient,
    )
    ctx.audit.record(AuditObjectType.user, user.id, None, actor_id=user.id)
    if not user.is_active:  # a doctor awaiting approval: the admins are told
        await announce(ctx.db, EventType.user_registered, "user", user.id, None, to_admins=True)
    return json_response(UserEnvelope(user=User.model_validate(user)), status=201)


@routes.post("/api/login")
@endpoint(
    "Log in with email and password; answers an access token",
    roles=None,
    body=LoginRequest,
    response=LoginResponse,
    subject=AuditObjectType.user,
    extra_responses={401: "Wrong email or password", 403: "Account inactive", 429: "Throttled"},
)
async def login(ctx: Context) -> web.Response:
    body = await ctx.json_body(LoginRequest)
    key = email_key(body.email)
    ip = ctx.audit.ip or "unknown"
    ctx.audit.action = AuditAction.login
    await check_login_allowed(ctx.db, ctx.settings, key, ip, ctx.now)
    user = await find_by_email(ctx.db, body.email)
    if user is not None:
        ctx.audit.about(AuditObjectType.user, user.id, None)
    passwords = ctx.request.app[PASSWORDS]
    if not await passwords.verify(body.password, user.password_hash if user else None):
        record_login_failure(ctx.db, key, ip, ctx.now)
        # Kept although the request fails: the failure must count.
        await ctx.db.commit()
        raise Unauthorized("The email or password is wrong.")
    assert user is not None
    if not user.is_active:
        raise Forbidden(
            "This account is waiting for an administrator's approval."
            if user.usertype == UserType.doctor
            else "This account is not active."
        )
    await clear_login_failures(ctx.db, key)
    token = await open_session(ctx.db, ctx.settings, user, ctx.now)
    ctx.audit.record(AuditObjectType.session, None, None, actor_id=user.id, outcome=AuditOutcome.ok)
    return json_response(
        LoginResponse(
            access_token=token,
            expires_in=ctx.settings.token_ttl,
            user=User.model_validate(user),
            idle_timeout=ctx.settings.idle_timeout,
        )
    )


@routes.post("/api/logout")
@endpoint("End the current session", roles=ANY_USER, status=204)
async def logout(ctx: Context) -> web.Response:
    assert ctx.session_id is not None
    await revoke_session(ctx.db, ctx.session_id, ctx.now)
    ctx.audit.record(AuditObjectType.session, None, None, action=AuditAction.logout)
    return no_content()
