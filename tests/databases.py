"""The databases the suite runs against: SQLite always, PostgreSQL where one answers.

The schema is made by the migrations once per run; each test then starts from empty tables
(a copy of the migrated SQLite file; TRUNCATE on PostgreSQL).
"""

import asyncio
import os
import shutil
import uuid
from pathlib import Path

import asyncpg

from devtools.postgres import asyncpg_dsn, create_database, drop_database
from server import orm  # noqa: F401  (registers the tables)
from server.db import Base
from server.migrate import upgrade_to_head

LOCAL_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
# Every table the models know, so a new one is emptied between tests without being listed here.
TABLES = ", ".join(table.name for table in Base.metadata.sorted_tables)


async def _probe(url: str) -> bool:
    try:
        connection = await asyncpg.connect(asyncpg_dsn(url), timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await connection.close()
    return True


class PostgresDatabase:
    """The PostgreSQL database of this run: MEDSYS_TEST_POSTGRES_URL (CI makes a fresh one),
    else a throw-away database on the local server, dropped at the end."""

    def __init__(self) -> None:
        self.url: str | None = os.environ.get("MEDSYS_TEST_POSTGRES_URL")
        self._created: str | None = None

    def start(self) -> str | None:
        if self.url is not None:
            upgrade_to_head(self.url)
            return self.url
        if not asyncio.run(_probe(LOCAL_POSTGRES)):
            return None
        name = f"medsys_test_{uuid.uuid4().hex[:12]}"
        self.url = asyncio.run(create_database(LOCAL_POSTGRES, name))
        self._created = name
        upgrade_to_head(self.url)
        return self.url

    def stop(self) -> None:
        if self._created is not None:
            asyncio.run(drop_database(LOCAL_POSTGRES, self._created))


async def empty_postgres(url: str) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await connection.execute(f"TRUNCATE {TABLES} RESTART IDENTITY")
    finally:
        await connection.close()


def migrated_sqlite_template(folder: Path) -> Path:
    template = folder / "template.db"
    upgrade_to_head(f"sqlite+aiosqlite:///{template}")
    return template


def fresh_sqlite(template: Path, folder: Path) -> str:
    database = folder / "medsys.db"
    shutil.copyfile(template, database)
    return f"sqlite+aiosqlite:///{database}"
