"""Requests whose bodies are still arriving when the server stops are answered 503 at once.

Once aiohttp's shutdown begins, it drops whatever a connection still sends (its protocol's
`data_received` returns early), so an upload half-way through its body waited for bytes that
would never come: measured, a STOW-RS request answered 408 "the body stopped arriving" after
the 30 s body timeout, and the stop took 30.7 s. Now, as the shutdown starts (`on_shutdown`,
before that), each such request's body stream ends in a 503 with Retry-After: the request is
refused whole (nothing of it is filed), the client may send it again to a running server, and
the stop is not held up. Requests whose bodies have arrived finish as before.
"""

from aiohttp import StreamReader, web
from aiohttp.typedefs import Handler

from server.errors import ServiceUnavailable

STOPPING = "The server is stopping; send the request again in a moment."


class ArrivingBodies:
    """The body streams of the requests being handled, which may still be arriving."""

    def __init__(self) -> None:
        self.streams: set[StreamReader] = set()
        self.stopping = False

    def end_all(self) -> None:
        self.stopping = True
        for stream in self.streams:
            if not stream.is_eof():  # a body that has all arrived is read to its end as before
                stream.set_exception(ServiceUnavailable(STOPPING))


ARRIVING_BODIES = web.AppKey("arriving_bodies", ArrivingBodies)


@web.middleware
async def arriving_bodies_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.body_exists:
        return await handler(request)
    bodies = request.app[ARRIVING_BODIES]
    if bodies.stopping:
        raise ServiceUnavailable(STOPPING)
    bodies.streams.add(request.content)
    try:
        return await handler(request)
    finally:
        bodies.streams.discard(request.content)


async def end_arriving_bodies(app: web.Application) -> None:
    """on_shutdown: end every body still arriving (see the module's docstring)."""
    app[ARRIVING_BODIES].end_all()
