"""Hot reads without the ORM's per-statement cost.

A read through the async ORM costs ~1.4 ms of this process's CPU per statement (session,
compilation cache lookup, four trips to aiosqlite's thread, result and instance machinery),
against ~0.1 ms for the same statement sent straight to the driver. The reads every request
makes (its token's session) and the hottest single-record reads go straight to the driver:
their statements are still written once in SQLAlchemy Core, compiled once per dialect, and
their results converted by the columns' own types, so SQLite and PostgreSQL share them.
"""

import sqlite3
import weakref
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Select, Table, event, insert
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.util import greenlet_spawn

Processor = Callable[[Any], Any] | None  # a column type's conversion of one value


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    parameter_names: tuple[str, ...]
    fixed: dict[str, Any]
    bind_processors: tuple[Processor, ...]
    names: tuple[str, ...]  # of the selected columns
    # The columns whose values the driver's differ from the ORM's (datetimes, enums), with
    # their types' conversions; the others are taken as they come.
    converted: tuple[tuple[str, Callable[[Any], Any]], ...]


def _compile(statement: Select[Any], dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)
    for name, bind in compiled.binds.items():
        if bind.expanding:
            raise TypeError(f"parameter {name} is a list (IN), which this module cannot send")
    parameter_names = tuple(compiled.positiontup or ())
    return _Compiled(
        str(compiled),
        parameter_names,
        # What the statement fixed when it was built (an OFFSET 0 the dialect adds, a literal);
        # the named bindparams are the caller's to give.
        {name: bind.value for name, bind in compiled.binds.items() if not bind.required},
        tuple(
            compiled.binds[name].type._cached_bind_processor(dialect) for name in parameter_names
        ),
        tuple(str(column.key) for column in statement.selected_columns),
        tuple(
            (str(column.key), process)
            for column in statement.selected_columns
            if (process := column.type._cached_result_processor(dialect, None)) is not None
        ),
    )


class RawQuery:
    """A Core SELECT, built once, run on a driver connection in one round trip; its rows are
    mappings of the selected columns' names to values converted as the ORM would (datetimes,
    enums, booleans). Its parameters are named `bindparam`s, converted by their types too."""

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    async def all(self, reader: "Reader", **parameters: Any) -> list[dict[str, Any]]:
        compiled = self._compiled.get(reader.dialect.name)
        if compiled is None:
            compiled = self._compiled[reader.dialect.name] = _compile(
                self.statement, reader.dialect
            )
        given = compiled.fixed | parameters
        values = [
            given[name] if process is None else process(given[name])
            for name, process in zip(
                compiled.parameter_names, compiled.bind_processors, strict=True
            )
        ]
        rows = await reader.fetch(compiled.sql, values)
        names, converted = compiled.names, compiled.converted
        found = []
        for row in rows:
            values_by_name = dict(zip(names, row, strict=True))
            for name, process in converted:
                values_by_name[name] = process(values_by_name[name])
            found.append(values_by_name)
        return found

    async def one_or_none(self, reader: "Reader", **parameters: Any) -> dict[str, Any] | None:
        rows = await self.all(reader, **parameters)
        return rows[0] if rows else None


class Reader(Protocol):
    """Where a RawQuery runs: a connection that fetches rows, and its dialect."""

    @property
    def dialect(self) -> Dialect: ...

    async def fetch(self, sql: str, values: Sequence[Any]) -> Sequence[Sequence[Any]]: ...


class RawInsert:
    """An INSERT of many rows of `table`'s `columns`, compiled once per dialect and sent as one
    executemany in a session's transaction, each value converted by its column's type (a key
    a row lacks is NULL: no column default is applied). The Core insert of fifty rows built
    and processed each row's parameters in Python again; this does only the conversions."""

    def __init__(self, table: Table, columns: Sequence[str]) -> None:
        self.table = table
        self.columns = tuple(columns)
        self._compiled: dict[str, tuple[str, tuple[tuple[str, Processor], ...]]] = {}

    def _compile(self, dialect: Dialect) -> tuple[str, tuple[tuple[str, Processor], ...]]:
        statement = insert(self.table).compile(dialect=dialect, column_keys=list(self.columns))
        converted: list[tuple[str, Processor]] = []
        for name in statement.positiontup or ():
            process: Processor = statement.binds[name].type._cached_bind_processor(dialect)
            converted.append((name, process))
        return str(statement), tuple(converted)

    async def run(self, db: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
        connection = await db.connection()
        dialect = connection.dialect
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = self._compile(dialect)
        sql, converted = compiled
        columns = [[row.get(name) for row in rows] for name, _ in converted]
        for values, (_, process) in zip(columns, converted, strict=True):
            if process is not None:
                values[:] = _converted(values, process)
        await connection.exec_driver_sql(sql, list(zip(*columns, strict=True)))


def _converted(values: list[Any], process: Callable[[Any], Any]) -> list[Any]:
    """`process` of each value, once per distinct value: the rows of a batch share most of
    theirs (an event's action, its kind, its time when one read recorded several)."""
    done: dict[Any, Any] = {}
    converted = []
    for value in values:
        result = done.get(value, _NOT_YET)
        if result is _NOT_YET:
            result = done[value] = process(value)
        converted.append(result)
    return converted


_NOT_YET = object()


@dataclass(frozen=True, slots=True)
class DriverConnection:
    """A pooled connection's driver (aiosqlite or asyncpg) and its dialect."""

    driver: Any
    dialect: Dialect

    async def fetch(self, sql: str, values: Sequence[Any]) -> Sequence[Sequence[Any]]:
        if self.dialect.driver == "aiosqlite":
            # One trip to the connection's thread (cursor, execute, fetch and close together).
            return list(await self.driver.execute_fetchall(sql, values))
        rows: Sequence[Mapping[str, Any]] = await self.driver.fetch(sql, *values)
        return [tuple(row.values()) for row in rows]


# Steps of SQLite's virtual machine a statement may take in the loop's thread, about a
# millisecond. Measured on 10,000 questions: a question by id with its answers takes 319 steps
# (8 µs), a page of fifty questions with their answers about 4,000 (0.12 ms).
LOOP_READ_STEPS = 30_000
_RUN_ELSEWHERE = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_INTERRUPT)


class LoopSqliteReader:
    """SQLite's hot reads, run in the event loop's own thread on a read-only connection.

    Through aiosqlite each statement is a trip to the connection's thread and back: a queue,
    a thread woken, the loop woken, and the GIL handed over twice, which under load waits for
    the busy loop thread to let go of it (up to its 5 ms switch interval). For a read by
    primary key or a page of fifty by index that trip cost about ten times the statement
    itself (measured: 0.1 ms, against tens of microseconds).

    The loop must not stall on it, so a statement is only tried here:
    - one that runs longer than LOOP_READ_STEPS steps of SQLite's virtual machine (about a
      millisecond) is interrupted and run again on a pooled connection in its thread, where
      SQLite lets go of the GIL while it works;
    - one that finds the database busy (a recovery under way: WAL lets this connection read
      while the writer writes) does not wait here either, and goes the same way.
    """

    def __init__(self, path: str, engine: AsyncEngine) -> None:
        self._path = path
        # Weakly: the engine's table of loop readers holds this one, and must not keep the
        # engine alive through it.
        self._engine = weakref.ref(engine)
        self.dialect = engine.dialect
        self._connection: sqlite3.Connection | None = None

    async def fetch(self, sql: str, values: Sequence[Any]) -> Sequence[Sequence[Any]]:
        try:
            return self._fetch(sql, values)
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode & 0xFF not in _RUN_ELSEWHERE:
                raise
        engine = self._engine()
        if engine is None:
            raise RuntimeError("the engine of this reader has been dropped")
        async with pooled_connection(engine) as pooled:
            return await pooled.fetch(sql, values)

    def _fetch(self, sql: str, values: Sequence[Any]) -> list[Any]:
        if self._connection is None:
            # timeout 0: never wait in the loop's thread; autocommit: each statement reads
            # the latest commit (a session revoked a moment ago is seen as revoked).
            connection = sqlite3.connect(
                self._path, timeout=0, isolation_level=None, check_same_thread=False
            )
            connection.execute("PRAGMA query_only=ON")
            # Called once a statement has taken LOOP_READ_STEPS steps: a true answer ends it.
            connection.set_progress_handler(lambda: 1, LOOP_READ_STEPS)
            self._connection = connection
        try:
            return self._connection.execute(sql, values).fetchall()
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode & 0xFF not in _RUN_ELSEWHERE:
                self.close()  # opened afresh next time (the file may have been replaced)
            raise
        except sqlite3.Error:
            self.close()
            raise

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


# The loop reader of each SQLite read engine (see use_loop_reader).
_loop_readers: "weakref.WeakKeyDictionary[Engine, LoopSqliteReader]" = weakref.WeakKeyDictionary()


def use_loop_reader(engine: AsyncEngine) -> None:
    """Run the RawQuery reads of `engine` (SQLite, on a file) in the event loop's thread."""
    path = engine.url.database
    if engine.dialect.name != "sqlite" or not path or path == ":memory:":
        return
    reader = LoopSqliteReader(path, engine)
    _loop_readers[engine.sync_engine] = reader
    event.listen(engine.sync_engine, "engine_disposed", lambda _engine: reader.close())


@asynccontextmanager
async def driver_connection(engine: AsyncEngine) -> AsyncIterator[Reader]:
    """Where `engine`'s hot reads run: its loop reader (SQLite), else a connection from its
    pool, lent for a few statements and given back."""
    reader = _loop_readers.get(engine.sync_engine)
    if reader is not None:
        yield reader
        return
    async with pooled_connection(engine) as pooled:
        yield pooled


@asynccontextmanager
async def pooled_connection(engine: AsyncEngine) -> AsyncIterator[DriverConnection]:
    """A connection from `engine`'s pool, lent for a few statements and given back."""
    pooled = await engine.raw_connection()
    try:
        yield DriverConnection(pooled.driver_connection, engine.dialect)
    except BaseException:
        # Whatever failed on it (a lost server, a cancelled statement), the connection is not
        # lent again: the pool opens a new one.
        await greenlet_spawn(pooled.invalidate)
        raise
    finally:
        # Given back in a greenlet: the pool's reset (PostgreSQL's rollback) awaits the driver.
        await greenlet_spawn(pooled.close)
