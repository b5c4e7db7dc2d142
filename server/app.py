"""The application factory."""

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from aiohttp import web

from server.api import (
    admin,
    auth,
    directory,
    histories,
    imaging,
    meta,
    profile,
    questions,
    xrays,
)
from server.db import create_engine, create_sessionmaker, utcnow
from server.decoding import DecodeGate
from server.errors import problem_middleware
from server.keys import (
    CLOCK,
    DECODE_GATE,
    ENGINE,
    OPENAPI,
    PASSWORDS,
    SESSIONMAKER,
    SETTINGS,
    STORAGE,
)
from server.openapi import build_openapi
from server.security import PasswordHasher
from server.settings import Settings
from server.storage import ImageStore

# JSON bodies are small; uploads stream through request.multipart(), which this does not limit.
MAX_JSON_BODY = 1024 * 1024


async def _database(app: web.Application) -> AsyncIterator[None]:
    engine = create_engine(app[SETTINGS].database_url)
    app[ENGINE] = engine
    app[SESSIONMAKER] = create_sessionmaker(engine)
    yield
    # Close every connection: a live aiosqlite connection keeps a thread and the process alive.
    await engine.dispose()


async def _storage(app: web.Application) -> AsyncIterator[None]:
    store = ImageStore(app[SETTINGS].storage_dir)
    await asyncio.to_thread(store.prepare)
    app[STORAGE] = store
    yield
    await asyncio.to_thread(store.close)


async def _no_sniffing(_request: web.Request, response: web.StreamResponse) -> None:
    # A browser must take every answer as the type it is sent as: an "image" a patient
    # uploaded with HTML after its end must never be run as a page.
    response.headers["X-Content-Type-Options"] = "nosniff"


def create_app(settings: Settings, clock: Callable[[], datetime] = utcnow) -> web.Application:
    app = web.Application(middlewares=[problem_middleware], client_max_size=MAX_JSON_BODY)
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[PASSWORDS] = PasswordHasher.for_settings(settings)
    app[DECODE_GATE] = DecodeGate(settings.max_decoded_bytes, os.cpu_count() or 1)
    app.cleanup_ctx.extend([_database, _storage])
    app.on_response_prepare.append(_no_sniffing)
    # Order matters where paths overlap: /api/questions/pending before /api/questions/{id}.
    for module in (meta, auth, profile, directory, questions, xrays, imaging, histories, admin):
        app.add_routes(module.routes)
    app[OPENAPI] = build_openapi(app)
    return app
