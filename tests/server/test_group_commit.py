"""Reads share their audit transactions, and none is answered before its event is committed."""

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import event, func, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from server import ingest
from server.audit import AuditTrail
from server.db import create_read_engine, create_sessionmaker, open_engine, utcnow
from server.groupcommit import AUDIT_TABLE, AuditWriter, GroupCommit
from server.ingest import Arrival, Received, StoredImage, drop_files, store_image
from server.keys import ARRIVALS, DECODE_GATE, SESSIONMAKER, SETTINGS, STORAGE
from server.orm import AuditEventRow
from server.settings import Settings
from shared.enums import AuditAction, AuditObjectType, AuditOutcome
from shared.imaging import DICOM, HEAD_BYTES, read_header
from tests.server.conftest import Practice
from tests.server.uploads import dicom_bytes


def read_event_values(object_id: int = 1) -> dict[str, object]:
    return {
        "at": utcnow(),
        "actor_id": 1,
        "action": AuditAction.read,
        "object_type": AuditObjectType.question,
        "object_id": object_id,
        "patient_id": 7,
        "outcome": AuditOutcome.ok,
        "ip": "127.0.0.1",
    }


def read_event(object_id: int) -> dict[str, object]:
    return read_event_values(object_id)


async def count_reads(settings: Settings, object_type: AuditObjectType) -> int:
    async with open_engine(settings.database_url) as engine, engine.connect() as connection:
        found = await connection.scalar(
            select(func.count())
            .select_from(AuditEventRow)
            .where(
                AuditEventRow.object_type == object_type,
                AuditEventRow.action == AuditAction.read,
                AuditEventRow.outcome == AuditOutcome.ok,
            )
        )
        return int(found or 0)


@pytest.fixture
async def engine(client: TestClient, settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The test database's engine (the client's server has made its tables)."""
    async with open_engine(settings.database_url) as opened:
        yield opened


def counted_commits(engine: AsyncEngine) -> list[int]:
    """A list that grows by one at each commit on `engine`."""
    commits: list[int] = []
    event.listen(engine.sync_engine, "commit", lambda _connection: commits.append(1))
    return commits


async def written_object_ids(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as connection:
        written = await connection.scalars(
            select(AuditEventRow.object_id).where(AuditEventRow.patient_id == 7)
        )
        return sorted(object_id for object_id in written if object_id is not None)


async def test_concurrent_reads_are_committed_in_one_transaction(engine: AsyncEngine) -> None:
    commits = counted_commits(engine)
    writer = AuditWriter(create_sessionmaker(engine))
    writer.start()
    await asyncio.gather(*(writer.write([read_event(number)]) for number in range(1, 21)))
    assert len(commits) == 1  # twenty requests, one transaction
    await writer.write([read_event(21), read_event(22)])
    assert len(commits) == 2
    await writer.stop()
    assert await written_object_ids(engine) == list(range(1, 23))


async def test_writing_after_stop_is_refused_and_stop_writes_what_waits(
    engine: AsyncEngine,
) -> None:
    writer = AuditWriter(create_sessionmaker(engine))
    writer.start()
    waiting = asyncio.ensure_future(writer.write([read_event(1)]))
    await asyncio.sleep(0)  # a yield, not a wait: the request hands its event over first
    await writer.stop()
    await waiting  # committed by stop, not dropped
    async with engine.connect() as connection:
        assert (
            await connection.scalar(select(func.count()).where(AuditEventRow.patient_id == 7)) == 1
        )
    with pytest.raises(RuntimeError, match="not running"):
        await writer.write([read_event(2)])


async def test_each_read_is_answered_only_after_its_event_is_committed(
    client: TestClient, practice: Practice, settings: Settings
) -> None:
    patient = await practice.patient()
    asked = await client.post(
        "/api/questions", json={"question_text": "Is this normal?"}, headers=patient.headers
    )
    assert asked.status == 201
    path = f"/api/questions/{(await asked.json())['id']}"
    before = await count_reads(settings, AuditObjectType.question)
    answered = 0

    async def read() -> None:
        nonlocal answered
        response = await client.get(path, headers=patient.headers)
        assert response.status == 200
        answered += 1
        # However many answers have arrived, at least as many events are in the trail.
        at_least = answered
        assert await count_reads(settings, AuditObjectType.question) - before >= at_least

    await asyncio.gather(*(read() for _ in range(12)))
    assert await count_reads(settings, AuditObjectType.question) - before == 12


async def test_reads_cannot_write_on_sqlite(settings: Settings) -> None:
    # GET requests run here: a write by mistake must fail loudly, not take the writer's lock.
    engine = create_read_engine(settings.database_url)
    if engine is None:
        assert settings.database_url.startswith("postgresql")  # one pool serves both there
        return
    try:
        async with engine.connect() as connection:
            assert await connection.scalar(select(func.count()).select_from(AuditEventRow)) == 0
            with pytest.raises(OperationalError, match="readonly"):
                await connection.execute(insert(AuditEventRow).values(**read_event_values()))
    finally:
        await engine.dispose()


class _Doubling(GroupCommit[int, int]):
    """Writes an audit row per item; a negative item's row breaks a NOT NULL constraint."""

    name = "test group commit"
    retry_alone = True

    async def write_batch(self, db: AsyncSession, items: list[int]) -> list[int]:
        rows = [read_event_values(abs(item)) for item in items]
        for row, item in zip(rows, items, strict=True):
            if item < 0:
                row["action"] = None
        await db.execute(insert(AUDIT_TABLE), rows)
        return [item * 2 for item in items]


async def test_an_item_that_fails_its_batch_fails_alone(engine: AsyncEngine) -> None:
    commits = counted_commits(engine)
    writer = _Doubling(create_sessionmaker(engine))
    writer.start()
    outcomes = await asyncio.gather(
        *(writer.submit(item) for item in (1, -2, 3)), return_exceptions=True
    )
    await writer.stop()
    assert outcomes[0] == 2
    assert isinstance(outcomes[1], IntegrityError)
    assert outcomes[2] == 6
    assert len(commits) == 2  # the batch failed; 1 and 3 each committed alone
    assert await written_object_ids(engine) == [1, 3]


async def test_a_film_whose_sender_leaves_is_filed_with_its_files(
    client: TestClient, practice: Practice, tmp_path: Path
) -> None:
    """A STOW client that hangs up (or a C-STORE association that drops) after its film was
    handed to the arrival group commit: the film still commits in its batch, so its files
    must stay. (They were removed by the sender's own error handling once: an inbox entry
    whose original and thumbnail were gone.)"""
    app = client.app
    store = app[STORAGE]
    data = dicom_bytes(tmp_path)
    temp = store.new_temp_path()
    temp.write_bytes(data)
    sha256 = hashlib.sha256(data).hexdigest()
    header = read_header(temp, DICOM)
    limits = app[SETTINGS].image_limits
    stored = await store_image(store, app[DECODE_GATE], limits, temp, data[:HEAD_BYTES], sha256)
    arrival = Arrival(temp, data[:HEAD_BYTES], sha256, len(data), "STOW-RS", None)
    audit = AuditTrail(ip="127.0.0.1", action=AuditAction.create, subject=None)
    filer = app[ARRIVALS]
    sender = asyncio.create_task(filer.file(Received(stored, arrival, audit)))
    # A state to reach, not an event: a few turns of the loop, no time passes.
    while not filer.waiting():  # noqa: ASYNC110 (handed over, not yet written)
        await asyncio.sleep(0)
    sender.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sender
    await filer.stop()  # writes what waits, then lets its filings finish

    listed = await client.get("/api/admin/unmatched", headers=practice.admin.headers)
    [entry] = (await listed.json())["items"]
    assert entry["patient_id_in_file"] == header.identity.patient_id
    thumbnail = await client.get(entry["thumbnail_url"], headers=practice.admin.headers)
    assert thumbnail.status == 200
    assert await thumbnail.read() == store.thumbnail_path(sha256, "image/jpeg").read_bytes()
    assert store.original_path(sha256).read_bytes() == data


async def same_content_twice(
    app: web.Application, tmp_path: Path
) -> tuple[bytes, str, list[tuple[Path, StoredImage]]]:
    """One film's content stored by two arrivals (a client's attempt and its retry): the
    content, its hash, and each arrival's temporary file and stored image."""
    store = app[STORAGE]
    data = dicom_bytes(tmp_path)
    sha256 = hashlib.sha256(data).hexdigest()
    limits = app[SETTINGS].image_limits
    attempts = []
    for _ in range(2):
        temp = store.new_temp_path()
        temp.write_bytes(data)
        stored = await store_image(store, app[DECODE_GATE], limits, temp, data[:HEAD_BYTES], sha256)
        attempts.append((temp, stored))
    return data, sha256, attempts


async def file_arrival(app: web.Application, data: bytes, temp: Path, stored: StoredImage) -> None:
    sha256 = hashlib.sha256(data).hexdigest()
    arrival = Arrival(temp, data[:HEAD_BYTES], sha256, len(data), "STOW-RS", None)
    audit = AuditTrail(ip="127.0.0.1", action=AuditAction.create, subject=None)
    await app[ARRIVALS].file(Received(stored, arrival, audit))


async def assert_filed_with_its_files(
    client: TestClient, practice: Practice, data: bytes, sha256: str
) -> None:
    listed = await client.get("/api/admin/unmatched", headers=practice.admin.headers)
    [entry] = (await listed.json())["items"]
    thumbnail = await client.get(entry["thumbnail_url"], headers=practice.admin.headers)
    assert thumbnail.status == 200
    store = client.app[STORAGE]
    assert await thumbnail.read() == store.thumbnail_path(sha256, "image/jpeg").read_bytes()
    assert store.original_path(sha256).read_bytes() == data
    assert list(store.tmp_dir.glob("*.held")) == []  # the arrivals' own copies are gone
    assert list(store.tmp_dir.glob("*.aside")) == []


async def test_a_film_keeps_its_files_when_the_same_content_sent_meanwhile_is_refused(
    client: TestClient, practice: Practice, tmp_path: Path
) -> None:
    """A client that times out and sends again: the first attempt (its body broken) is
    dropped while the second, with the same content, waits for its commit. The first placed
    the files and removes them, no committed film using them yet; the second still files
    its film with its files. (It relied on the first's files once and lost them.)"""
    app = client.app
    data, sha256, [(_, first), (second_temp, second)] = await same_content_twice(app, tmp_path)
    await drop_files(app[SESSIONMAKER], app[STORAGE], sha256, first)
    assert not app[STORAGE].original_path(sha256).exists()  # nothing used them: they went
    await file_arrival(app, data, second_temp, second)
    await assert_filed_with_its_files(client, practice, data, sha256)


async def test_files_being_removed_come_back_for_a_film_committed_meanwhile(
    client: TestClient, practice: Practice, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other order: the dropped attempt has looked (no committed film uses the content)
    and is about to remove the files when the retry commits, finds them still there and lets
    its own copy go. The removal looks again after moving the files aside, and puts them
    back."""
    app = client.app
    data, sha256, [(_, first), (second_temp, second)] = await same_content_twice(app, tmp_path)
    looked = ingest._referenced
    looks = 0

    async def retry_commits_after_the_first_look(db: AsyncSession, content: str) -> bool:
        nonlocal looks
        looks += 1
        answer = await looked(db, content)
        if looks == 1:
            await file_arrival(app, data, second_temp, second)
        return answer

    monkeypatch.setattr(ingest, "_referenced", retry_commits_after_the_first_look)
    await drop_files(app[SESSIONMAKER], app[STORAGE], sha256, first)
    assert looks == 2
    await assert_filed_with_its_files(client, practice, data, sha256)
