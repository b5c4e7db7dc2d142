"""Health and the API's own description."""

import json

from aiohttp import web
from sqlalchemy import text

from server.endpoint import Context, endpoint, json_response
from server.errors import ServiceUnavailable
from server.keys import OPENAPI
from shared.models import Health

routes = web.RouteTableDef()


@routes.get("/api/health")
@endpoint(
    "Liveness and database reachability",
    roles=None,
    response=Health,
    extra_responses={503: "The database is unreachable"},
)
async def health(ctx: Context) -> web.Response:
    try:
        await ctx.db.execute(text("SELECT 1"))
    except Exception:
        raise ServiceUnavailable("The database is unreachable.") from None
    return json_response(Health(status="ok", database="ok"))


@routes.get("/api/openapi.json")
@endpoint("This API's OpenAPI 3.1 document", roles=None)
async def openapi(ctx: Context) -> web.Response:
    return web.Response(text=json.dumps(ctx.request.app[OPENAPI]), content_type="application/json")
