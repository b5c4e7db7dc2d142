"""GET /api/events: the live-event WebSocket (see docs/api.md, "Live events").

Authenticated like any request (Bearer header on the upgrade, never a token in the URL); the
socket then receives events as text frames. The client sends nothing but pings and pongs.
"""

import asyncio
import contextlib
import socket as stdlib_socket

from aiohttp import WSMsgType, web

from server.endpoint import ANY_USER, SPEC_ATTRIBUTE, EndpointSpec
from server.errors import BadRequest
from server.events.hub import CLOSE_TRY_AGAIN, Subscriber
from server.events.recipients import Listener
from server.keys import CLOCK, EVENT_HUB, READ_ENGINE, SESSIONMAKER, SETTINGS
from server.sessions import authenticate
from shared.base import QueryModel
from shared.models import Event

routes = web.RouteTableDef()
SEND_BUFFER_BYTES = 64 * 1024


def _after(request: web.Request) -> int | None:
    raw = request.query.get("after")
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit():
        raise BadRequest("`after` must be the id of an event (a whole number).")
    return int(raw)


class EventsQuery(QueryModel):
    after: int | None = None


@routes.get("/api/events")
async def events(request: web.Request) -> web.StreamResponse:
    """The live events of the caller's role (WebSocket)."""
    app, settings = request.app, request.app[SETTINGS]
    after = _after(request)
    async with app[SESSIONMAKER]() as db:
        user, session_id = await authenticate(
            db, app[READ_ENGINE], settings, request.headers.get("Authorization"), app[CLOCK]()
        )
        await db.commit()
    socket = web.WebSocketResponse(autoping=False, max_msg_size=64 * 1024)
    await socket.prepare(request)
    _bound_send_buffer(request)
    subscriber = Subscriber(
        Listener(user.id, user.usertype), session_id, socket, request.transport, cursor=0
    )
    hub = app[EVENT_HUB]
    await hub.subscribe(subscriber, after)
    ponged = asyncio.Event()
    tasks = [
        asyncio.create_task(_send(subscriber, settings.event_patience_seconds)),
        asyncio.create_task(
            _heartbeat(
                subscriber,
                ponged,
                settings.event_heartbeat_seconds,
                settings.event_patience_seconds,
            )
        ),
    ]
    try:
        # Pongs are only read while something receives: this loop is that something.
        async for message in socket:
            if message.type == WSMsgType.PING:
                await socket.pong(message.data)
            elif message.type == WSMsgType.PONG:
                ponged.set()
    finally:
        hub.unsubscribe(subscriber)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return socket


# Not an @endpoint (a socket is not a request: no per-request audit or transaction), but
# described in the OpenAPI document like every route.
setattr(
    events,
    SPEC_ATTRIBUTE,
    EndpointSpec(
        "The live events of the caller's role (WebSocket; frames are Event objects)",
        roles=ANY_USER,
        query=EventsQuery,
        response=Event,
        status=101,
        extra_responses={400: "Not a WebSocket upgrade, or `after` is not an event id"},
    ),
)


def _bound_send_buffer(request: web.Request) -> None:
    """Left alone, the kernel grows a loopback socket's send buffer to megabytes: per idle
    socket that is memory, and for a client that stopped reading it hides for minutes that
    nothing is read. Events are small; a fixed buffer keeps both bounded."""
    transport = request.transport
    raw = transport.get_extra_info("socket") if transport is not None else None
    if raw is not None:
        with contextlib.suppress(OSError):
            raw.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_SNDBUF, SEND_BUFFER_BYTES)


async def _send(subscriber: Subscriber, patience: float) -> None:
    """Send queued frames in order; one that stays unsent for `patience` s closes the socket
    (1013): a client that does not read must not hold events in the server's memory."""
    socket = subscriber.socket
    while not socket.closed:
        text = await subscriber.queue.get()
        try:
            async with asyncio.timeout(patience):
                await socket.send_str(text)
        except TimeoutError:
            await subscriber.close(CLOSE_TRY_AGAIN, "Too slow to read the events; resume later.")
            return
        except ConnectionError:
            return


async def _heartbeat(
    subscriber: Subscriber,
    ponged: asyncio.Event,
    interval: float,
    patience: float,
) -> None:
    socket = subscriber.socket
    while not socket.closed:
        await asyncio.sleep(interval)
        ponged.clear()
        try:
            await socket.ping()
            async with asyncio.timeout(patience):
                await ponged.wait()
        except TimeoutError:
            await subscriber.close(CLOSE_TRY_AGAIN, "No answer to a ping; resume later.")
            return
        except ConnectionError:
            return
