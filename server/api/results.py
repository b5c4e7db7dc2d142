"""Signing a result and adding to a signed one (doctors): docs/api.md, "Results"."""

from aiohttp import web

from server.api.xrays import XRAY, visible_xray
from server.convert import addendum_out, xray_out
from server.endpoint import DOCTOR, Context, endpoint, json_response
from server.results import add_addendum, sign_result
from shared.enums import AuditAction
from shared.models import Addendum, AddendumCreate, XRay

routes = web.RouteTableDef()


@routes.post("/api/xrays/{xray_id}/result/sign")
@endpoint(
    "Sign the result (doctors): it becomes final, the patient sees it with its marks",
    roles=DOCTOR,
    response=XRay,
    subject=XRAY,
    extra_responses={409: "Already signed", 422: "There is no result to sign"},
)
async def sign(ctx: Context) -> web.Response:
    xray = await visible_xray(ctx, XRAY)
    await sign_result(ctx.db, xray, ctx.user, ctx.now)
    await ctx.db.flush()
    # Signing changes the x-ray: audited as its update (docs/api.md), named in the detail.
    ctx.audit.record(XRAY, xray.id, xray.user_id, action=AuditAction.update, detail="signed")
    return json_response(xray_out(xray, ctx.user))


@routes.post("/api/xrays/{xray_id}/addenda")
@endpoint(
    "Add to a signed result (doctors); the result becomes amended",
    roles=DOCTOR,
    body=AddendumCreate,
    response=Addendum,
    status=201,
    subject=XRAY,
    extra_responses={409: "The result is not signed"},
)
async def create_addendum(ctx: Context) -> web.Response:
    xray = await visible_xray(ctx, XRAY)
    body = await ctx.json_body(AddendumCreate)
    addendum = await add_addendum(ctx.db, xray, ctx.user, body.text, ctx.now)
    # The addendum is audited as a change of the x-ray it belongs to (docs/api.md).
    ctx.audit.record(XRAY, xray.id, xray.user_id, detail="addendum")
    return json_response(addendum_out(addendum), status=201)
