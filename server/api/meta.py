"""Health and the API's own description."""

import asyncio
import json
import logging

from aiohttp import web
from sqlalchemy import text

from server.endpoint import Context, endpoint, json_response
from server.errors import ServiceUnavailable
from server.keys import OPENAPI, STORAGE
from shared.models import Health

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


@routes.get("/api/health")
@endpoint(
    "Liveness, and whether the database answers and the image store takes writes",
    roles=None,
    response=Health,
    extra_responses={
        503: "The database is unreachable or the image store refuses writes; the body's "
        "`database` and `storage` members say which"
    },
)
async def health(ctx: Context) -> web.Response:
    try:
        await ctx.db.execute(text("SELECT 1"))
        database = "ok"
    except Exception as error:
        log.warning("health: the database does not answer (%s)", error)
        database = "unavailable"
    storage = await asyncio.to_thread(ctx.request.app[STORAGE].probe)
    if database != "ok" or storage != "ok":
        down = " and ".join(
            part
            for part, state in (("the database", database), ("the image store", storage))
            if state != "ok"
        )
        raise ServiceUnavailable(
            f"The server cannot work normally: {down}.",
            extensions={"status": "unavailable", "database": database, "storage": storage},
        )
    return json_response(Health(status="ok", database="ok", storage="ok"))


@routes.get("/api/openapi.json")
@endpoint("This API's OpenAPI 3.1 document", roles=None)
async def openapi(ctx: Context) -> web.Response:
    return web.Response(text=json.dumps(ctx.request.app[OPENAPI]), content_type="application/json")
