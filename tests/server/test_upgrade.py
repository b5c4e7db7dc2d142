"""Upgrades lose nothing: a database filled by the previous release (its `migrate` and
`seed-demo`, kept in tests/fixtures/release-stop6) is migrated to this one and still serves
every record, on SQLite and on PostgreSQL."""

import asyncio
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from server.db import one_session
from server.migrate import upgrade_to_head
from server.orm import (
    MedicalHistoryRow,
    QuestionRow,
    ResponseRow,
    UserRow,
    XRayAnnotationsRow,
    XRayRow,
)
from shared.enums import ResultStatus, UserType
from tests.databases import asyncpg_dsn

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "release-stop6"
# What the previous release's seed-demo wrote: what must still be there.
SEEDED = {
    UserRow: 5,
    XRayRow: 3,
    QuestionRow: 3,
    ResponseRow: 1,
    MedicalHistoryRow: 3,
    XRayAnnotationsRow: 1,
}


@pytest.fixture(params=["sqlite", "postgresql"])
async def previous_release(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str | None
) -> AsyncIterator[str]:
    """A database as the previous release left it."""
    if request.param == "sqlite":
        database = tmp_path / "medsys.db"
        shutil.copyfile(FIXTURE / "sqlite.db", database)
        yield f"sqlite+aiosqlite:///{database}"
        return
    if postgres_url is None:
        pytest.skip("no PostgreSQL: set MEDSYS_TEST_POSTGRES_URL or run one on 127.0.0.1:5432")
    admin_url = make_url(postgres_url).set(database="postgres")
    name = f"medsys_upgrade_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(asyncpg_dsn(admin_url.render_as_string(False)))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = make_url(postgres_url).set(database=name)
        # psql, not asyncpg: pg_dump's file holds psql meta-commands.
        dsn = asyncpg_dsn(url.render_as_string(False))
        command = [
            "psql",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-f",
            str(FIXTURE / "postgresql.sql"),
            dsn,
        ]
        await asyncio.to_thread(
            subprocess.run, command, check=True, capture_output=True, timeout=120
        )
        yield url.render_as_string(False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def counts(database_url: str) -> dict[type, int]:
    async with one_session(database_url) as db:
        return {
            table: int(await db.scalar(select(func.count()).select_from(table)) or 0)
            for table in SEEDED
        }


async def test_the_previous_releases_data_survives_the_upgrade(previous_release: str) -> None:
    assert await counts(previous_release) == SEEDED
    await asyncio.to_thread(upgrade_to_head, previous_release)  # alembic runs its own loop
    assert await counts(previous_release) == SEEDED
    async with one_session(previous_release) as db:
        users = {user.email: user for user in (await db.scalars(select(UserRow))).all()}
        chest = await db.scalar(select(XRayRow).where(XRayRow.name_of_xray == "Chest PA"))
        others = (await db.scalars(select(XRayRow).where(XRayRow.id != chest.id))).all()
    assert {user.status for user in users.values()} == {"active"}
    assert chest is not None
    assert chest.result_final
    assert chest.result_of_xray == "Lungs clear; no effusion. Heart size normal."
    # Migration 0004: a result made final before signatures is signed, by no one named, at
    # its last change; the films without a result wait on the worklist.
    assert chest.result_status == ResultStatus.final
    assert chest.result_signed_by_id is None
    assert chest.result_signed_at == chest.updated_at
    assert others
    assert {xray.result_status for xray in others} == {ResultStatus.none}
    # Migration 0005: patients have record numbers; every film is an instance with its UIDs
    # (made now where the file could not be read: this fixture ships no image files).
    for user in users.values():
        expected = f"M{user.id:07d}" if user.usertype == UserType.patient else None
        assert user.record_number == expected
    uids = [xray.sop_instance_uid for xray in (chest, *others)]
    assert all(uids)
    assert len(set(uids)) == len(uids)
