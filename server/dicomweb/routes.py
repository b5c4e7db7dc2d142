"""/dicomweb: QIDO-RS, WADO-RS and STOW-RS, and the CORS preflight a browser viewer sends."""

from aiohttp import web

from server.dicomweb import qido, stow, wado
from server.endpoint import Context, endpoint

routes = web.RouteTableDef()


@routes.options("/dicomweb/{path:.*}")
@endpoint("CORS preflight of a browser viewer (no authentication)", roles=None, status=204)
async def preflight(ctx: Context) -> web.Response:
    del ctx
    return web.Response(status=204)


ALL = (qido.routes, wado.routes, stow.routes, routes)
