"""Live events across server processes on PostgreSQL (LISTEN/NOTIFY): a write through one
process reaches sockets on another; a killed process's clients resume elsewhere with nothing
lost; a database outage loses nothing (real server processes, the real database)."""

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy.engine import make_url

from devtools.live_server import LiveServer, create_user
from tests.databases import empty_postgres
from tests.server.live import PASSWORD, login, prepared_environment
from tests.tcp_proxy import TcpProxy

DOCTOR_EMAIL = "doctor@live.example"
WAIT = 15.0  # a lost notification costs at most the hub's 3 s poll; a reconnect a few more


@pytest.fixture
async def environment(postgres_url: str | None, tmp_path: Path) -> dict[str, str]:
    if postgres_url is None:
        pytest.skip("no PostgreSQL: set MEDSYS_TEST_POSTGRES_URL or run one on 127.0.0.1:5432")
    await empty_postgres(postgres_url)
    environment = prepared_environment(tmp_path, postgres_url)
    create_user(environment, "doctor", DOCTOR_EMAIL, "Live Doctor", PASSWORD)
    return environment


async def started(environment: dict[str, str]) -> LiveServer:
    server = LiveServer(environment)
    await asyncio.to_thread(server.start)
    return server


async def stopped(server: LiveServer) -> None:
    # Also for a killed process: stop() reads and closes its output pipe.
    await asyncio.to_thread(server.stop)


async def doctor_headers(http: aiohttp.ClientSession, url: str) -> dict[str, str]:
    async with http.post(
        f"{url}/api/login", json={"email": DOCTOR_EMAIL, "password": PASSWORD}
    ) as response:
        assert response.status == 200, await response.text()
        return {"Authorization": f"Bearer {(await response.json())['access_token']}"}


async def ask(http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> int:
    async with http.post(
        f"{url}/api/questions", headers=headers, json={"question_text": "Is this normal?"}
    ) as response:
        assert response.status == 201, await response.text()
        return int((await response.json())["id"])


async def next_event(socket: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    message = await socket.receive(timeout=WAIT)
    assert message.type == aiohttp.WSMsgType.TEXT, message
    return dict(json.loads(message.data))


@pytest.fixture
async def two_servers(environment: dict[str, str]) -> AsyncIterator[tuple[LiveServer, LiveServer]]:
    first, second = await started(environment), await started(environment)
    try:
        yield first, second
    finally:
        await stopped(first)
        await stopped(second)


async def test_an_event_written_through_one_process_reaches_sockets_on_the_other(
    two_servers: tuple[LiveServer, LiveServer],
) -> None:
    first, second = two_servers
    async with aiohttp.ClientSession() as http:
        patient = await login(http, first.url)
        doctor = await doctor_headers(http, second.url)
        doctor_socket = await http.ws_connect(f"{second.url}/api/events", headers=doctor)
        patient_socket = await http.ws_connect(f"{first.url}/api/events", headers=patient)

        question = await ask(http, first.url, patient)
        created = await next_event(doctor_socket)
        assert (created["type"], created["object_id"]) == ("question.created", question)

        async with http.post(
            f"{second.url}/api/questions/{question}/response",
            headers=doctor,
            json={"response_text": "Yes."},
        ) as response:
            assert response.status == 201
        answered = await next_event(patient_socket)
        assert (answered["type"], answered["object_id"]) == ("question.answered", question)
        answered_too = await next_event(doctor_socket)
        assert answered_too["id"] == answered["id"]


async def test_clients_of_a_killed_process_resume_on_another_with_nothing_lost(
    two_servers: tuple[LiveServer, LiveServer],
) -> None:
    doomed, survivor = two_servers
    async with aiohttp.ClientSession() as http:
        patient = await login(http, survivor.url)
        doctor = await doctor_headers(http, doomed.url)
        socket = await http.ws_connect(f"{doomed.url}/api/events", headers=doctor)
        await ask(http, survivor.url, patient)
        last_seen = (await next_event(socket))["id"]

        assert doomed.process is not None
        doomed.process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(doomed.process.wait)
        closed = await socket.receive(timeout=WAIT)
        assert closed.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)

        missed = [await ask(http, survivor.url, patient) for _ in range(3)]
        resumed = await http.ws_connect(
            f"{survivor.url}/api/events?after={last_seen}", headers=doctor
        )
        live = await ask(http, survivor.url, patient)
        received = [await next_event(resumed) for _ in range(4)]
        assert [event["object_id"] for event in received] == [*missed, live]
        assert [event["id"] for event in received] == sorted({e["id"] for e in received})


async def test_a_database_outage_loses_no_event(
    environment: dict[str, str], postgres_url: str
) -> None:
    database = make_url(postgres_url)
    proxy = TcpProxy(database.host or "127.0.0.1", database.port or 5432)
    port = await proxy.start()
    proxied = dict(environment)
    proxied["MEDSYS_DATABASE_URL"] = database.set(port=port).render_as_string(False)
    writer, listener = await started(environment), await started(proxied)
    try:
        async with aiohttp.ClientSession() as http:
            patient = await login(http, writer.url)
            doctor = await doctor_headers(http, listener.url)
            socket = await http.ws_connect(f"{listener.url}/api/events", headers=doctor)
            before = await ask(http, writer.url, patient)
            assert (await next_event(socket))["object_id"] == before

            # The listening process loses its database (its LISTEN connection and its pool)
            # while another process goes on writing.
            await proxy.cut()
            during = [await ask(http, writer.url, patient) for _ in range(3)]
            await proxy.restore()
            after = await ask(http, writer.url, patient)
            received = [await next_event(socket) for _ in range(4)]
            assert [event["object_id"] for event in received] == [*during, after]
    finally:
        await proxy.restore()
        await stopped(writer)
        await stopped(listener)
        await proxy.close()
