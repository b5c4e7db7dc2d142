"""Live events over GET /api/events: who receives what, resume, resync, and when a socket is
closed (docs/api.md, "Live events"). One server process here; several in test_events_processes."""

import asyncio
import contextlib
import json
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient
from sqlalchemy import delete, insert, select

from server.app import create_app
from server.db import one_session
from server.keys import EVENT_HUB
from server.orm import EventRow
from server.settings import Settings
from tests.conftest import FakeClock, make_settings
from tests.server.conftest import (
    PASSWORD,
    Actor,
    ClientFactory,
    Practice,
    bootstrap_admin,
)
from tests.server.problems import problem
from tests.server.test_questions import ask
from tests.server.uploads import upload_png

WAIT = 10.0  # seconds a test waits for a frame the server owes it
# More frames than the client's and the server's socket buffers hold: the rest can only wait.
EVENT_FLOOD = 5_000


class Socket:
    """One client's event socket, read frame by frame."""

    def __init__(self, connection: aiohttp.ClientWebSocketResponse) -> None:
        self.connection = connection

    async def next(self) -> dict[str, Any]:
        message = await self.connection.receive(timeout=WAIT)
        assert message.type == WSMsgType.TEXT, (message.type, message.data, message.extra)
        return dict(json.loads(message.data))

    async def until_marker(self, first_marker: int) -> list[tuple[str, int | None]]:
        """Every event before the markers (delivered in id order, so nothing is missed)."""
        seen: list[tuple[str, int | None]] = []
        while (frame := await self.next())["id"] < first_marker:
            seen.append((frame["type"], frame["object_id"]))
        return seen

    async def closed_with(self) -> int | None:
        message = await self.connection.receive(timeout=WAIT)
        while message.type == WSMsgType.TEXT:
            message = await self.connection.receive(timeout=WAIT)
        # The code the server sent in its close frame.
        assert message.type == WSMsgType.CLOSE, message
        return int(message.data)


async def connect(client: TestClient, actor: Actor, after: int | None = None) -> Socket:
    path = "/api/events" if after is None else f"/api/events?after={after}"
    connection = await client.ws_connect(path, headers=actor.headers)
    return Socket(connection)


async def marker(app: web.Application, settings: Settings, patient_ids: list[int]) -> int:
    """Events that together reach every socket of the test: the end of what it should have
    heard (one per patient, each also to every doctor and admin). Answers the first id."""
    async with one_session(settings.database_url) as db:
        first = 0
        for patient_id in patient_ids:
            event = EventRow(
                type="xray.created",
                object_type="xray",
                object_id=0,
                patient_id=patient_id,
                all_doctors=True,
                to_patient=True,
                to_admins=True,
            )
            db.add(event)
            await db.flush()
            first = first or event.id
        await db.commit()
    app[EVENT_HUB].wake()
    return first


async def test_every_event_reaches_exactly_its_recipients(
    client: TestClient, practice: Practice, app: web.Application, settings: Settings
) -> None:
    patient, bystander = await practice.patient(), await practice.patient()
    doctor, colleague = await practice.doctor(), await practice.doctor()
    admin = practice.admin
    sockets = {
        name: await connect(client, actor)
        for name, actor in {
            "patient": patient,
            "bystander": bystander,
            "doctor": doctor,
            "colleague": colleague,
            "admin": admin,
        }.items()
    }
    expected: dict[str, list[tuple[str, int | None]]] = {name: [] for name in sockets}

    def to(names: str, event: str, object_id: int) -> None:
        for name in names.split():
            expected[name].append((event, object_id))

    async def post(actor: Actor, path: str, body: dict[str, Any] | None = None) -> Any:
        response = await client.post(path, headers=actor.headers, json=body)
        assert response.status in (200, 201), await response.text()
        return await response.json()

    unassigned = (await ask(client, patient))["id"]
    to("doctor colleague", "question.created", unassigned)
    assigned = (await ask(client, patient, doctor_id=doctor.id))["id"]
    to("doctor", "question.created", assigned)
    await post(colleague, f"/api/questions/{unassigned}/claim")
    to("doctor colleague", "question.claimed", unassigned)
    await post(colleague, f"/api/questions/{unassigned}/response", {"response_text": "Rest."})
    to("patient colleague", "question.answered", unassigned)
    # The first answer to an unassigned question leaves every doctor's queue.
    open_question = (await ask(client, patient))["id"]
    to("doctor colleague", "question.created", open_question)
    await post(doctor, f"/api/questions/{open_question}/response", {"response_text": "Fluids."})
    to("patient doctor colleague", "question.answered", open_question)
    await post(doctor, f"/api/questions/{open_question}/response", {"response_text": "And rest."})
    to("patient doctor", "question.answered", open_question)

    own_film = (await upload_png(client, patient))["id"]
    to("doctor colleague", "xray.created", own_film)
    staff_film = (await upload_png(client, doctor, user_id=str(patient.id)))["id"]
    to("patient doctor colleague", "xray.created", staff_film)
    path = f"/api/xrays/{own_film}"
    await client.patch(path, headers=doctor.headers, json={"result_of_xray": "Normal."})
    await post(doctor, f"{path}/result/sign")
    to("patient doctor colleague", "xray.signed", own_film)
    await post(colleague, f"{path}/addenda", {"text": "Agreed."})
    to("patient doctor colleague", "xray.amended", own_film)

    history = await post(
        doctor, f"/api/medical_histories_of_patient/{patient.id}", {"name_of_surgery": "Appendix"}
    )
    to("patient", "history.changed", history["id"])
    await client.patch(
        f"/api/medical_histories/{history['id']}",
        headers=doctor.headers,
        json={"name_of_surgery": "Appendectomy"},
    )
    to("patient", "history.changed", history["id"])
    await client.delete(f"/api/medical_histories/{history['id']}", headers=admin.headers)
    to("patient", "history.changed", history["id"])

    registered = await client.post(
        "/api/register",
        json={
            "full_name": "Dr New",
            "email": "new.doctor@practice.example",
            "phone": "+1 555 9999",
            "usertype": "doctor",
            "password": PASSWORD,
        },
    )
    to("admin", "user.registered", (await registered.json())["user"]["id"])
    # A patient registering concerns no one.
    await client.post(
        "/api/register",
        json={
            "full_name": "New Patient",
            "email": "new.patient@practice.example",
            "phone": "+1 555 9998",
            "usertype": "patient",
            "password": PASSWORD,
        },
    )

    end = await marker(app, settings, [patient.id, bystander.id])
    for name, connection in sockets.items():
        assert await connection.until_marker(end) == expected[name], name


async def test_a_frame_carries_ids_only(
    client: TestClient, practice: Practice, app: web.Application
) -> None:
    patient, doctor = await practice.patient("Secret Name"), await practice.doctor()
    connection = await connect(client, doctor)
    question = await ask(client, patient, question_text="A very private worry")
    frame = await connection.next()
    assert set(frame) == {"id", "type", "at", "object_type", "object_id", "patient_id"}
    assert (frame["type"], frame["object_type"], frame["object_id"], frame["patient_id"]) == (
        "question.created",
        "question",
        question["id"],
        patient.id,
    )
    assert "Secret" not in json.dumps(frame)
    assert "private" not in json.dumps(frame)


async def test_resume_delivers_every_missed_event_exactly_once(
    client: TestClient, practice: Practice
) -> None:
    patient, doctor = await practice.patient(), await practice.doctor()
    connection = await connect(client, doctor)
    first = await ask(client, patient)
    received = await connection.next()
    assert received["object_id"] == first["id"]
    await connection.connection.close()

    missed = [(await ask(client, patient))["id"] for _ in range(3)]
    resumed = await connect(client, doctor, after=received["id"])
    live = (await ask(client, patient))["id"]
    frames = [await resumed.next() for _ in range(4)]
    assert [frame["object_id"] for frame in frames] == [*missed, live]
    ids = [frame["id"] for frame in frames]
    assert ids == sorted(set(ids))
    assert ids[0] > received["id"]

    # Resuming from the newest id gives nothing old, only what comes next.
    again = await connect(client, doctor, after=ids[-1])
    newer = (await ask(client, patient))["id"]
    assert (await again.next())["object_id"] == newer


async def test_resync_when_events_are_gone_or_the_id_is_unknown(
    client: TestClient, practice: Practice, settings: Settings
) -> None:
    patient, doctor = await practice.patient(), await practice.doctor()
    for _ in range(3):
        await ask(client, patient)
    async with one_session(settings.database_url) as db:
        ids = sorted((await db.scalars(select(EventRow.id))).all())
        newest = ids[-1]
        # Retention dropped the oldest two.
        await db.execute(delete(EventRow).where(EventRow.id <= ids[1]))
        await db.commit()

    for after in (ids[0] - 1, newest + 100):
        connection = await connect(client, doctor, after=after)
        assert await connection.next() == {"type": "resync", "id": newest}
        following = (await ask(client, patient))["id"]
        frame = await connection.next()
        assert frame["object_id"] == following
        newest = frame["id"]

    # Everything after `after` still kept: no resync, the kept event itself.
    connection = await connect(client, doctor, after=ids[1])
    assert (await connection.next())["id"] == ids[2]


async def test_bad_upgrades_are_refused(client: TestClient, practice: Practice) -> None:
    doctor = await practice.doctor()
    for query in ("?after=abc", "?after=-1", "?after=1.5"):
        await problem(await client.get(f"/api/events{query}", headers=doctor.headers), 400)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/api/events")
    assert refused.value.status == 401
    with pytest.raises(aiohttp.WSServerHandshakeError) as forged:
        await client.ws_connect("/api/events", headers={"Authorization": "Bearer x.y.z"})
    assert forged.value.status == 401
    # A token in the URL is no authentication.
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await client.ws_connect(f"/api/events?access_token={doctor.token}")


async def test_the_end_of_a_session_closes_its_sockets_with_4401(
    client: TestClient, practice: Practice, clock: FakeClock, settings: Settings
) -> None:
    patient, doctor = await practice.patient(), await practice.doctor()

    logged_out = await connect(client, patient)
    other_session = await practice.login(patient.user["email"])
    still_open = await connect(client, other_session)
    await client.post("/api/logout", headers=patient.headers)
    assert await logged_out.closed_with() == 4401
    # The patient's other session goes on hearing.
    uploaded = (await upload_png(client, doctor, user_id=str(patient.id)))["id"]
    assert (await still_open.next())["object_id"] == uploaded

    password_changed = await connect(client, other_session)
    fresh = await practice.login(patient.user["email"])
    await client.post(
        "/api/profile/password",
        headers=fresh.headers,
        json={"current_password": PASSWORD, "new_password": "a new long passphrase"},
    )
    assert await password_changed.closed_with() == 4401
    assert await still_open.closed_with() == 4401

    deactivated = await connect(client, doctor)
    await client.delete(f"/api/admin/users/{doctor.id}", headers=practice.admin.headers)
    assert await deactivated.closed_with() == 4401

    # An open socket is not activity: the idle timeout runs on.
    colleague = await practice.doctor()
    idle = await connect(client, colleague)
    clock.advance(settings.idle_timeout + 1)
    assert await idle.closed_with() == 4401


async def test_shutdown_closes_sockets_with_going_away(
    aiohttp_client: ClientFactory, settings: Settings, clock: FakeClock
) -> None:
    await bootstrap_admin(settings)
    client = await aiohttp_client(create_app(settings, clock=clock))
    admin = Practice(client, Actor(user={}, token=""))
    admin_actor = await admin.login("admin@practice.example")
    connection = await connect(client, admin_actor)
    await client.server.close()
    assert await connection.closed_with() == 1001


async def impatient_server(
    aiohttp_client: ClientFactory,
    tmp_path: Path,
    database_url: str,
    clock: FakeClock,
    **overrides: float,
) -> tuple[web.Application, TestClient, Practice]:
    settings = make_settings(tmp_path, database_url, **overrides)
    await bootstrap_admin(settings)
    app = create_app(settings, clock=clock)
    client = await aiohttp_client(app)
    admin = await Practice(client, Actor({}, "")).login("admin@practice.example")
    return app, client, Practice(client, admin)


async def test_a_client_that_answers_no_ping_is_closed_with_1013(
    aiohttp_client: ClientFactory, tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    _app, client, practice = await impatient_server(
        aiohttp_client,
        tmp_path,
        database_url,
        clock,
        event_heartbeat_seconds=0.3,
        event_patience_seconds=0.3,
    )
    doctor = await practice.doctor()
    silent = await client.ws_connect("/api/events", headers=doctor.headers, autoping=False)
    ping = await silent.receive(timeout=WAIT)
    assert ping.type == WSMsgType.PING
    closing = await silent.receive(timeout=WAIT)
    assert (closing.type, closing.data) == (WSMsgType.CLOSE, 1013)
    # One that answers stays open across several pings.
    answering = await client.ws_connect("/api/events", headers=doctor.headers, autoping=False)
    for _ in range(3):
        ping = await answering.receive(timeout=WAIT)
        assert ping.type == WSMsgType.PING
        await answering.pong(ping.data)
    assert not answering.closed


async def test_a_client_that_reads_nothing_is_cut_off_and_the_others_keep_receiving(
    aiohttp_client: ClientFactory, tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    # No pings: the reader answers one only while it reads, and on a busy machine this test
    # can outlast the heartbeat.
    app, client, practice = await impatient_server(
        aiohttp_client,
        tmp_path,
        database_url,
        clock,
        event_patience_seconds=0.5,
        event_heartbeat_seconds=3600,
    )
    patient, doctor = await practice.patient(), await practice.doctor()
    reader = await client.ws_connect("/api/events", headers=doctor.headers)
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.setblocking(False)
    await asyncio.get_running_loop().sock_connect(raw, ("127.0.0.1", client.port))
    # A small stream limit: the client stops reading after a few kilobytes.
    stalled, stalled_writer = await asyncio.open_connection(sock=raw, limit=1024)
    stalled_writer.write(
        (
            "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {doctor.token}\r\n\r\n"
        ).encode()
    )
    assert b" 101 " in await stalled.readuntil(b"\r\n\r\n")
    try:
        hub = app[EVENT_HUB]
        assert len(hub.subscribers) == 2
        # Watched from before the flood: on a busy machine the stalled socket is let go while
        # the reader still reads, and is then no longer among the hub's subscribers.
        gone = {
            subscriber: asyncio.ensure_future(subscriber.gone.wait())
            for subscriber in hub.subscribers
        }
        async with one_session(database_url) as db:
            await db.execute(
                insert(EventRow),
                [
                    {
                        "type": "question.created",
                        "object_type": "question",
                        "object_id": number,
                        "patient_id": patient.id,
                        "all_doctors": True,
                    }
                    for number in range(1, EVENT_FLOOD + 1)
                ],
            )
            await db.commit()
        hub.wake()
        received = 0
        while received < EVENT_FLOOD:
            message = await reader.receive(timeout=WAIT)
            assert message.type == WSMsgType.TEXT, message
            received += 1
        # The stalled socket is let go (its frames waited 0.5 s; its close may wait 5 s more).
        done, _ = await asyncio.wait(
            gone.values(), timeout=3 * WAIT, return_when=asyncio.FIRST_COMPLETED
        )
        assert len(done) == 1
        assert len(hub.subscribers) == 1
        assert not reader.closed
        for waiting in gone.values():
            waiting.cancel()
    finally:
        # Closed whatever happened: a leaked stream would warn in a later test.
        stalled_writer.close()
        with contextlib.suppress(ConnectionError):
            await stalled_writer.wait_closed()
