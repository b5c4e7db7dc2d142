"""Every piece of application state, declared once as a typed AppKey."""

from collections.abc import Callable
from datetime import datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from server.decoding import DecodeGate
from server.events.hub import EventHub
from server.groupcommit import AuditWriter
from server.ingest import ArrivalFiler
from server.pixelcache import PixelRenderer
from server.security import PasswordHasher
from server.settings import Settings
from server.storage import ImageStore

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONMAKER = web.AppKey("sessionmaker", async_sessionmaker[AsyncSession])
# What GET and HEAD requests read with (SQLite: read-only connections; else SESSIONMAKER).
READ_SESSIONMAKER = web.AppKey("read_sessionmaker", async_sessionmaker[AsyncSession])
# The engine of those reads (ENGINE on PostgreSQL); hot reads go straight to its driver.
READ_ENGINE = web.AppKey("read_engine", AsyncEngine)
STORAGE = web.AppKey("storage", ImageStore)
PASSWORDS = web.AppKey("passwords", PasswordHasher)
# Admits image decodes against the process's memory budget (uploads, display pixels).
DECODE_GATE = web.AppKey("decode_gate", DecodeGate)
# The time source; tests replace it to step past idle timeouts and token lifetimes.
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("clock")
# Built once at start-up from the routes; served by GET /api/openapi.json.
OPENAPI = web.AppKey("openapi", dict[str, object])
# Renders each film's display pixels once (at ingest, in the background).
PIXEL_RENDERER = web.AppKey("pixel_renderer", PixelRenderer)
# Commits the audit events of reads in shared transactions (server/groupcommit.py).
AUDIT_WRITER = web.AppKey("audit_writer", AuditWriter)
# Files the films that arrive over DICOM (STOW-RS, C-STORE) in shared transactions.
ARRIVALS = web.AppKey("arrivals", ArrivalFiler)
# The live-event hub of this process (its sockets, its reading of the outbox).
EVENT_HUB = web.AppKey("event_hub", EventHub)
