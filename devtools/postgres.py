"""Creating and dropping a PostgreSQL database for a test run or a benchmark, by asyncpg."""

import asyncpg
from sqlalchemy.engine import make_url


def asyncpg_dsn(url: str) -> str:
    """A SQLAlchemy URL (postgresql+asyncpg://…) as the libpq DSN asyncpg and psql take."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def database_url(server_url: str, name: str) -> str:
    """`server_url` (any database on the server) pointed at database `name`."""
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


async def create_database(server_url: str, name: str, *, replace: bool = False) -> str:
    """Create database `name` on `server_url`'s server (dropping one of that name first when
    `replace`); its URL, in `server_url`'s dialect."""
    if replace:
        await drop_database(server_url, name)
    await _administer(server_url, f'CREATE DATABASE "{name}"')
    return database_url(server_url, name)


async def drop_database(server_url: str, name: str) -> None:
    """Drop database `name`, even with sessions still connected to it."""
    await _administer(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _administer(server_url: str, statement: str) -> None:
    # Through the server's maintenance database: one cannot create or drop the database
    # one is connected to.
    connection = await asyncpg.connect(asyncpg_dsn(database_url(server_url, "postgres")))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()
