"""Hot reads without the ORM's per-statement cost.

A read through the async ORM costs ~1.4 ms of this process's CPU per statement (session,
compilation cache lookup, four trips to aiosqlite's thread, result and instance machinery),
against ~0.1 ms for the same statement sent straight to the driver. The reads every request
makes (its token's session) and the hottest single-record reads go straight to the driver:
their statements are still written once in SQLAlchemy Core, compiled once per dialect, and
their results converted by the columns' own types, so SQLite and PostgreSQL share them.
"""

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

Processor = Callable[[Any], Any] | None  # a column type's conversion of one value


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    parameter_names: tuple[str, ...]
    fixed: dict[str, Any]
    bind_processors: tuple[Processor, ...]
    names: tuple[str, ...]  # of the selected columns
    result_processors: tuple[Processor, ...]


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
            column.type._cached_result_processor(dialect, None)
            for column in statement.selected_columns
        ),
    )


class RawQuery:
    """A Core SELECT, built once, run on a driver connection in one round trip; its rows are
    mappings of the selected columns' names to values converted as the ORM would (datetimes,
    enums, booleans). Its parameters are named `bindparam`s, converted by their types too."""

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    async def all(self, reader: "DriverConnection", **parameters: Any) -> list[dict[str, Any]]:
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
        names, processors = compiled.names, compiled.result_processors
        return [
            {
                name: value if process is None else process(value)
                for name, process, value in zip(names, processors, row, strict=True)
            }
            for row in rows
        ]

    async def one_or_none(
        self, reader: "DriverConnection", **parameters: Any
    ) -> dict[str, Any] | None:
        rows = await self.all(reader, **parameters)
        return rows[0] if rows else None


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


@asynccontextmanager
async def driver_connection(engine: AsyncEngine) -> AsyncIterator[DriverConnection]:
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
