"""Database engine, session factory and the column types every table shares."""

import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, Table, event, exc, insert, inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, make_transient_to_detached
from sqlalchemy.types import TypeDecorator

from server.rawsql import use_loop_reader

# Stable constraint names on SQLite and PostgreSQL, so migrations can name what they alter.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# 64-bit ids on PostgreSQL; on SQLite only INTEGER PRIMARY KEY is the auto-incrementing rowid.
IdType = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp; SQLite keeps no offset, so it is restored on load."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_engine(database_url: str) -> AsyncEngine:
    if database_url.startswith("sqlite"):
        # One connection: SQLite has one writer anyway, and every request writes (audit),
        # so a single queue avoids "database is locked" between our own connections.
        engine = create_async_engine(
            database_url, pool_size=1, max_overflow=0, connect_args={"timeout": 30}
        )
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        return engine
    # A fixed pool, no overflow: an overflow connection is closed as soon as it is given back,
    # so under load every request past the pool opened a connection (TLS attempt, login, a
    # backend forked) and closed it again; two processes ran slower than one. Past ten at
    # once, a request waits for a connection, which is a fraction of a millisecond away.
    engine = create_async_engine(database_url, pool_size=10, max_overflow=0)
    event.listen(engine.sync_engine.pool, "checkin", _note_checkin)
    event.listen(engine.sync_engine.pool, "checkout", _ping_if_idle)
    return engine


# A connection given back this recently has just worked; one idle longer is pinged before it
# is lent again (the pool's own pre-ping pings every time: three round trips on asyncpg, BEGIN,
# an empty statement, ROLLBACK, on each of a read's two checkouts, which was more of
# PostgreSQL's CPU than the reads themselves). A connection that fails in use is not reused:
# SQLAlchemy invalidates it (on a lost server, every older one with it), and so does rawsql.
FRESH_SECONDS = 1.0


def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info["checked_in"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    checked_in = record.info.get("checked_in")
    if checked_in is None or time.monotonic() - checked_in < FRESH_SECONDS:
        return  # opened for this checkout, or given back a moment ago
    try:
        dbapi_connection.ping()
    except Exception as error:
        # The pool retries the checkout with a new connection (SQLAlchemy's documented
        # pessimistic disconnect handling).
        raise exc.DisconnectionError(str(error)) from error


# Read-only SQLite connections beside the writer: WAL lets them read while it writes, each in
# its own aiosqlite thread, so reads no longer queue behind each other's round trips.
SQLITE_READERS = 3


def _sqlite_read_only_on_connect(dbapi_connection: Any, record: Any) -> None:
    _sqlite_on_connect(dbapi_connection, record)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")  # a write by mistake fails loudly, never locks
    cursor.close()


def create_read_engine(database_url: str) -> AsyncEngine | None:
    """The engine reads run on: for SQLite, SQLITE_READERS read-only connections; None for
    PostgreSQL, whose pool serves reads and writes alike."""
    if not database_url.startswith("sqlite"):
        return None
    engine = create_async_engine(
        database_url,
        pool_size=SQLITE_READERS,
        max_overflow=0,
        connect_args={"timeout": 30},
        # Nothing to roll back on a connection that cannot write (the driver opens no
        # transaction for a SELECT): a rollback would be one more trip to its thread.
        pool_reset_on_return=None,
    )
    event.listen(engine.sync_engine, "connect", _sqlite_read_only_on_connect)
    use_loop_reader(engine)
    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def open_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine for work outside the running server (CLI, tests), disposed at the end: an
    undisposed aiosqlite connection keeps a thread, and the process, alive."""
    engine = create_engine(database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


@asynccontextmanager
async def one_session(database_url: str) -> AsyncIterator[AsyncSession]:
    async with open_engine(database_url) as engine, create_sessionmaker(engine)() as db:
        yield db


def column_values(row: Base) -> dict[str, Any]:
    """The columns set on a new mapped object, by column name (those left out take their
    column's default in an INSERT)."""
    state = inspect(row)
    return {
        attribute.columns[0].key: state.dict[attribute.key]
        for attribute in state.mapper.column_attrs
        if attribute.key in state.dict
    }


async def insert_new(db: AsyncSession, rows: Sequence[Base], match_on: str) -> None:
    """Insert new objects of one mapped class in one statement and make them persistent in
    `db`, every column loaded, as a flush would.

    A flush inserts them one statement each on SQLite: it needs the new ids in the order the
    rows were sent, which SQLite's RETURNING does not promise, so SQLAlchemy falls back to a
    statement per row. Here the returned rows are matched to the objects by the column
    `match_on`, which the caller knows to be unique among them."""
    if not rows:
        return
    mapper = inspect(type(rows[0]))
    table = cast(Table, mapper.local_table)
    result = await db.execute(
        insert(table).returning(*table.columns), [column_values(row) for row in rows]
    )
    by_key = {getattr(row, match_on): row for row in rows}
    if len(by_key) != len(rows):
        raise ValueError(f"{table.name}: new rows share a {match_on}")
    for stored in result.mappings():
        row = by_key[stored[table.columns[match_on]]]
        for attribute in mapper.column_attrs:
            setattr(row, attribute.key, stored[attribute.columns[0]])
        make_transient_to_detached(row)  # its history goes: no INSERT at the next flush
        db.add(row)
