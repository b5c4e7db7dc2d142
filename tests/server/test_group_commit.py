"""Reads share their audit transactions, and none is answered before its event is committed."""

import asyncio

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import event, func, insert, select
from sqlalchemy.exc import OperationalError

from server.db import create_read_engine, create_sessionmaker, open_engine, utcnow
from server.groupcommit import AuditWriter
from server.orm import AuditEventRow
from server.settings import Settings
from shared.enums import AuditAction, AuditObjectType, AuditOutcome
from tests.server.conftest import Practice


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


async def test_concurrent_reads_are_committed_in_one_transaction(
    client: TestClient, settings: Settings
) -> None:
    async with open_engine(settings.database_url) as engine:
        commits: list[int] = []
        event.listen(engine.sync_engine, "commit", lambda _connection: commits.append(1))
        writer = AuditWriter(create_sessionmaker(engine))
        writer.start()
        await asyncio.gather(*(writer.write([read_event(number)]) for number in range(1, 21)))
        assert len(commits) == 1  # twenty requests, one transaction
        await writer.write([read_event(21), read_event(22)])
        assert len(commits) == 2
        await writer.stop()
        async with engine.connect() as connection:
            written = await connection.scalars(
                select(AuditEventRow.object_id).where(AuditEventRow.patient_id == 7)
            )
            assert sorted(written) == list(range(1, 23))


async def test_writing_after_stop_is_refused_and_stop_writes_what_waits(
    client: TestClient, settings: Settings
) -> None:
    async with open_engine(settings.database_url) as engine:
        writer = AuditWriter(create_sessionmaker(engine))
        writer.start()
        waiting = asyncio.ensure_future(writer.write([read_event(1)]))
        await asyncio.sleep(0)  # a yield, not a wait: the request hands its event over first
        await writer.stop()
        await waiting  # committed by stop, not dropped
        async with engine.connect() as connection:
            assert (
                await connection.scalar(select(func.count()).where(AuditEventRow.patient_id == 7))
                == 1
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
