"""Upgrades lose nothing: a database filled by an earlier release (its `migrate` and
`seed-demo`, kept in tests/fixtures/release-stopN: stop 6; stop 14, with its stored DICOM
film; stop 15, the previous release, with its thumbnails) is migrated to this one and keeps
every record, on SQLite and on PostgreSQL."""

import asyncio
import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pydicom
import pytest
from sqlalchemy import func, select

from devtools.postgres import asyncpg_dsn, create_database, drop_database
from server.access import pending_questions_for
from server.db import one_session, open_engine
from server.migrate import current_revision, upgrade_to_head
from server.orm import (
    MedicalHistoryRow,
    QuestionRow,
    ResponseRow,
    UserRow,
    XRayAnnotationsRow,
    XRayRow,
)
from server.storage import ImageStore
from shared.enums import QuestionStatus, ResultStatus, UserType

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
RELEASES = ["release-stop6", "release-stop14", "release-stop15"]
# What the previous release's seed-demo wrote: what must still be there.
SEEDED = {
    UserRow: 5,
    XRayRow: 3,
    QuestionRow: 3,
    ResponseRow: 1,
    MedicalHistoryRow: 3,
    XRayAnnotationsRow: 1,
}


@pytest.fixture(params=[(r, b) for r in RELEASES for b in ("sqlite", "postgresql")])
async def previous_release(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    postgres_url: str | None,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[str]:
    """A database as an earlier release left it; its stored files where the fixture has them
    (the migration reads DICOM files from the store `serve` would use)."""
    release, backend = request.param
    fixture = FIXTURES / release
    monkeypatch.setenv("MEDSYS_STORAGE_DIR", str(fixture / "storage"))
    if backend == "sqlite":
        database = tmp_path / "medsys.db"
        shutil.copyfile(fixture / "sqlite.db", database)
        yield f"sqlite+aiosqlite:///{database}"
        return
    if postgres_url is None:
        pytest.skip("no PostgreSQL: set MEDSYS_TEST_POSTGRES_URL or run one on 127.0.0.1:5432")
    name = f"medsys_upgrade_{uuid.uuid4().hex[:12]}"
    url = await create_database(postgres_url, name)
    try:
        # psql, not asyncpg: pg_dump's file holds psql meta-commands.
        dsn = asyncpg_dsn(url)
        command = [
            "psql",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-f",
            str(fixture / "postgresql.sql"),
            dsn,
        ]
        await asyncio.to_thread(
            subprocess.run, command, check=True, capture_output=True, timeout=120
        )
        yield url
    finally:
        await drop_database(postgres_url, name)


async def counts(database_url: str) -> dict[type, int]:
    async with one_session(database_url) as db:
        return {
            table: int(await db.scalar(select(func.count()).select_from(table)) or 0)
            for table in SEEDED
        }


async def revision_of(database_url: str) -> str:
    async with open_engine(database_url) as engine:
        return str(await current_revision(engine))


async def test_the_previous_releases_data_survives_the_upgrade(previous_release: str) -> None:
    assert await counts(previous_release) == SEEDED
    signatures_recorded = await revision_of(previous_release) >= "0004"
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
    assert chest.result_status == ResultStatus.final
    assert others
    if signatures_recorded:  # its doctor signed it, and still has; another has a draft
        assert chest.result_signed_by_id == users["grace@medsys.example"].id
        assert {xray.result_status for xray in others} == {
            ResultStatus.none,
            ResultStatus.preliminary,
        }
    else:
        assert {xray.result_status for xray in others} == {ResultStatus.none}
        # Migration 0004: a result made final before signatures is signed, by no one named,
        # at its last change; the films without a result wait on the worklist.
        assert chest.result_signed_by_id is None
        assert chest.result_signed_at == chest.updated_at
    # Migration 0005: patients have record numbers; every film is an instance with its UIDs
    # (made now where the file could not be read: this fixture ships no image files).
    for user in users.values():
        expected = f"M{user.id:07d}" if user.usertype == UserType.patient else None
        assert user.record_number == expected
    uids = [xray.sop_instance_uid for xray in (chest, *others)]
    assert all(uids)
    assert len(set(uids)) == len(uids)
    stored = Path(os.environ["MEDSYS_STORAGE_DIR"]) / "objects" / chest.sha256[:2]
    film = stored / chest.sha256[2:4] / chest.sha256
    if film.exists():  # the previous release's SQLite fixture keeps its DICOM film
        dataset = pydicom.dcmread(film, stop_before_pixels=True)
        assert chest.sop_instance_uid == dataset.SOPInstanceUID
        assert chest.study_instance_uid == dataset.StudyInstanceUID
        assert (chest.modality, chest.file_patient_name) == ("DX", str(dataset.PatientName))


async def test_the_previous_releases_queue_and_thumbnails_work_after_the_upgrade(
    previous_release: str,
) -> None:
    await asyncio.to_thread(upgrade_to_head, previous_release)
    async with one_session(previous_release) as db:
        doctor = await db.scalar(select(UserRow).where(UserRow.usertype == UserType.doctor))
        assert doctor is not None
        # Migration 0006: the queue reads the new partial index and finds the same questions.
        queue = (
            await db.scalars(
                select(QuestionRow.id).where(pending_questions_for(doctor)).order_by(QuestionRow.id)
            )
        ).all()
        everything = (await db.scalars(select(QuestionRow))).all()
        xrays = (await db.scalars(select(XRayRow))).all()
    expected = [
        question.id
        for question in everything
        if question.status == QuestionStatus.pending and question.doctor_id in (None, doctor.id)
    ]
    assert queue == sorted(expected)
    assert queue  # the seed leaves questions waiting
    # Films stored before thumbnails of films became JPEG keep their PNG thumbnails, found by
    # each row's own thumbnail type (where the fixture keeps its thumbnails).
    store = ImageStore(Path(os.environ["MEDSYS_STORAGE_DIR"]))
    # (The SQLite fixture's: the PostgreSQL one was seeded apart, with films of its own.)
    if previous_release.startswith("sqlite") and (store.root / "thumbnails").is_dir():
        assert {xray.thumbnail_type for xray in xrays} >= {"image/png"}
        for xray in xrays:
            assert store.thumbnail_path(xray.sha256, xray.thumbnail_type).is_file(), xray.id
