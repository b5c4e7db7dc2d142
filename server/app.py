"""The application factory."""

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from aiohttp import web

from server.api import (
    admin,
    auth,
    counts,
    directory,
    histories,
    imaging,
    inbox,
    meta,
    profile,
    questions,
    results,
    worklist,
    xrays,
)
from server.db import create_engine, create_read_engine, create_sessionmaker, utcnow
from server.decoding import DecodeGate
from server.dicomweb import routes as dicomweb
from server.dicomweb.common import cors_headers
from server.dimse import dicom_listener
from server.errors import problem_middleware
from server.events import socket as event_socket
from server.events.hub import EventHub
from server.groupcommit import AuditWriter
from server.ingest import ArrivalFiler
from server.keys import (
    ARRIVALS,
    AUDIT_WRITER,
    CLOCK,
    DECODE_GATE,
    ENGINE,
    EVENT_HUB,
    OPENAPI,
    PASSWORDS,
    PIXEL_RENDERER,
    READ_ENGINE,
    READ_SESSIONMAKER,
    SESSIONMAKER,
    SETTINGS,
    STORAGE,
)
from server.openapi import build_openapi
from server.pixelcache import Film, PixelRenderer
from server.security import PasswordHasher
from server.settings import Settings
from server.stopping import (
    ARRIVING_BODIES,
    ArrivingBodies,
    arriving_bodies_middleware,
    end_arriving_bodies,
)
from server.storage import ImageStore

# JSON bodies are small; uploads stream through request.multipart(), which this does not limit.
MAX_JSON_BODY = 1024 * 1024


async def _database(app: web.Application) -> AsyncIterator[None]:
    engine = create_engine(app[SETTINGS].database_url)
    app[ENGINE] = engine
    app[SESSIONMAKER] = create_sessionmaker(engine)
    read_engine = create_read_engine(app[SETTINGS].database_url)
    app[READ_ENGINE] = read_engine or engine
    app[READ_SESSIONMAKER] = (
        create_sessionmaker(read_engine) if read_engine is not None else app[SESSIONMAKER]
    )
    yield
    # Close every connection: a live aiosqlite connection keeps a thread and the process alive.
    if read_engine is not None:
        await read_engine.dispose()
    await engine.dispose()


async def _audit_writer(app: web.Application) -> AsyncIterator[None]:
    writer = AuditWriter(app[SESSIONMAKER])
    writer.start()
    app[AUDIT_WRITER] = writer
    yield
    await writer.stop()


async def _arrivals(app: web.Application) -> AsyncIterator[None]:
    # The hub is looked up when a batch has committed: it starts after this. The renderer
    # is up before, and closes after the filer's last filing.
    renderer = app[PIXEL_RENDERER]
    filer = ArrivalFiler(
        app[SESSIONMAKER],
        app[STORAGE],
        app[CLOCK],
        lambda: app[EVENT_HUB].wake(),
        lambda xray: renderer.prerender(Film.of(xray)),
    )
    filer.start()
    app[ARRIVALS] = filer
    yield
    await filer.stop()


async def _decoders(app: web.Application) -> AsyncIterator[None]:
    gate = app[DECODE_GATE]
    # In the background: the server answers meanwhile, and a decode asked for before the
    # workers are up waits for them.
    starting = asyncio.create_task(gate.start())
    yield
    # Not cancelled: its thread would go on starting workers that the close below misses.
    await asyncio.gather(starting, return_exceptions=True)
    await asyncio.to_thread(gate.close)


async def _storage(app: web.Application) -> AsyncIterator[None]:
    store = ImageStore(app[SETTINGS].storage_dir)
    await asyncio.to_thread(store.prepare)
    app[STORAGE] = store
    renderer = PixelRenderer(store, app[DECODE_GATE])
    app[PIXEL_RENDERER] = renderer
    yield
    await renderer.close()
    await asyncio.to_thread(store.close)


async def _events(app: web.Application) -> AsyncIterator[None]:
    hub = EventHub(app[SESSIONMAKER], app[SETTINGS], app[CLOCK])
    await hub.start()
    app[EVENT_HUB] = hub
    yield
    await hub.stop()


async def _close_event_sockets(app: web.Application) -> None:
    # Open sockets would hold the shutdown: they are closed with "going away" (1001).
    await app[EVENT_HUB].close_all()


async def _no_sniffing(_request: web.Request, response: web.StreamResponse) -> None:
    # A browser must take every answer as the type it is sent as: an "image" a patient
    # uploaded with HTML after its end must never be run as a page.
    response.headers["X-Content-Type-Options"] = "nosniff"


def create_app(settings: Settings, clock: Callable[[], datetime] = utcnow) -> web.Application:
    app = web.Application(
        middlewares=[problem_middleware, arriving_bodies_middleware],
        client_max_size=MAX_JSON_BODY,
    )
    app[SETTINGS] = settings
    app[ARRIVING_BODIES] = ArrivingBodies()
    app[CLOCK] = clock
    app[PASSWORDS] = PasswordHasher.for_settings(settings)
    app[DECODE_GATE] = DecodeGate(settings.max_decoded_bytes, os.cpu_count() or 1)
    app.cleanup_ctx.extend(
        [_database, _audit_writer, _decoders, _storage, _arrivals, _events, dicom_listener]
    )
    app.on_shutdown.append(end_arriving_bodies)
    app.on_shutdown.append(_close_event_sockets)
    app.on_response_prepare.append(_no_sniffing)
    app.on_response_prepare.append(cors_headers)
    # Order matters where paths overlap: /api/questions/pending before /api/questions/{id}.
    for module in (
        meta,
        auth,
        profile,
        directory,
        questions,
        counts,
        worklist,
        results,
        xrays,
        imaging,
        histories,
        admin,
        inbox,
        event_socket,
    ):
        app.add_routes(module.routes)
    for dicomweb_routes in dicomweb.ALL:
        app.add_routes(dicomweb_routes)
    app[OPENAPI] = build_openapi(app)
    return app
