"""Slow and stalled clients are closed after the configured timeouts, so idle or half-sent
connections cannot pile up (a real server process, raw sockets)."""

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from PIL import Image

from devtools.live_server import create_user
from tests.server.live import (
    PASSWORD,
    Running,
    login,
    prepared_environment,
    running,
    upload_file,
)

# Generous against the 1 s timeouts below; a server without timeouts holds them for an hour.
DEADLINE = 15
DOCTOR_EMAIL = "slow.doctor@practice.example"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    data_dir = tmp_path_factory.mktemp("slow-clients")
    environment = prepared_environment(
        data_dir,
        f"sqlite+aiosqlite:///{data_dir / 'medsys.db'}",
        MEDSYS_KEEPALIVE_TIMEOUT="1",
        MEDSYS_BODY_TIMEOUT="1",
    )
    create_user(environment, "doctor", DOCTOR_EMAIL, "Slow Doctor", PASSWORD)
    with running(environment) as live:
        yield live


@contextlib.asynccontextmanager
async def connect(
    server: Running,
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    host, port = server.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        yield reader, writer
    finally:
        writer.close()


def upload_head(authorization: str, *, expect_continue: bool = False) -> bytes:
    """The head of an x-ray upload that promises a body of 5,000,000 bytes."""
    return (
        b"POST /api/xrays HTTP/1.1\r\nHost: medsys\r\n"
        + (b"Expect: 100-continue\r\n" if expect_continue else b"")
        + f"Authorization: {authorization}\r\n".encode()
        + b"Content-Type: multipart/form-data; boundary=B\r\nContent-Length: 5000000\r\n\r\n"
    )


# The start of the upload's image part: far from the 5,000,000 bytes promised.
IMAGE_PART_START = (
    b'--B\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n'
    b"\x89PNG\r\n\x1a\n" + b"\0" * 1000
)


async def until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection."""
    return await asyncio.wait_for(reader.read(), DEADLINE)


async def test_a_connection_that_sends_nothing_is_closed(server: Running) -> None:
    async with connect(server) as (reader, _writer):
        assert await until_closed(reader) == b""


async def test_a_request_head_that_never_ends_is_closed(server: Running) -> None:
    async with connect(server) as (reader, writer):
        writer.write(b"GET /api/health HTTP/1.1\r\nHost: medsys\r\nX-Slow: ")
        await writer.drain()
        assert await until_closed(reader) == b""


async def test_an_idle_kept_alive_connection_is_closed_after_its_answer(server: Running) -> None:
    async with connect(server) as (reader, writer):
        writer.write(b"GET /api/health HTTP/1.1\r\nHost: medsys\r\n\r\n")
        await writer.drain()
        answer = await until_closed(reader)
        assert answer.startswith(b"HTTP/1.1 200")


async def test_a_json_body_that_stops_arriving_is_408_and_closed(server: Running) -> None:
    async with connect(server) as (reader, writer):
        writer.write(
            b"POST /api/login HTTP/1.1\r\nHost: medsys\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"email": '
        )
        await writer.drain()
        answer = await until_closed(reader)
        assert answer.startswith(b"HTTP/1.1 408")
        assert b"application/problem+json" in answer


async def test_an_upload_that_stops_arriving_is_408_and_closed(server: Running) -> None:
    async with aiohttp.ClientSession() as http:
        headers = await login(http, server.url)
    async with connect(server) as (reader, writer):
        writer.write(upload_head(headers["Authorization"]) + IMAGE_PART_START)
        await writer.drain()
        answer = await until_closed(reader)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"stopped arriving" in answer


async def test_a_stow_body_that_stops_arriving_is_408_and_closed(server: Running) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{server.url}/api/login", json={"email": DOCTOR_EMAIL, "password": PASSWORD}
        ) as response,
    ):
        token = (await response.json())["access_token"]
    async with connect(server) as (reader, writer):
        writer.write(
            b"POST /dicomweb/studies HTTP/1.1\r\nHost: medsys\r\n"
            + f"Authorization: Bearer {token}\r\n".encode()
            + b"Content-Type: multipart/related; type=application/dicom; boundary=B\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
            b"400\r\n--B\r\n\r\n" + b"\0" * (0x400 - 7) + b"\r\n"
        )
        await writer.drain()
        answer = await until_closed(reader)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"stopped arriving" in answer


async def test_a_download_nobody_reads_is_dropped(server: Running, tmp_path: Path) -> None:
    # Noise does not compress: a 24 MB PNG, far more than the sockets' buffers hold.
    film = tmp_path / "noise.png"
    noise = np.random.default_rng(3).integers(0, 65535, (2000, 6000), dtype=np.uint16)
    Image.fromarray(noise).save(film, compress_level=1)
    async with aiohttp.ClientSession() as http:
        headers = await login(http, server.url)
        status, xray = await upload_file(http, server.url, headers, film)
        assert status == 201, xray
    async with connect(server) as (reader, writer):
        writer.write(
            f"GET /api/xrays/{xray['id']}/image HTTP/1.1\r\nHost: medsys\r\n"
            f"Authorization: {headers['Authorization']}\r\n\r\n".encode()
        )
        await writer.drain()
        # Read nothing until the server has given up on this client ...
        gave_up = "the client read nothing"
        await asyncio.to_thread(server.server.wait_for_output, gave_up, DEADLINE)
        # ... then everything it had sent: much less than the film.
        received = 0
        try:
            while chunk := await asyncio.wait_for(reader.read(1 << 20), DEADLINE):
                received += len(chunk)
        except ConnectionResetError:
            pass
        assert received < film.stat().st_size


async def test_a_client_leaving_mid_download_is_not_an_error(tmp_path: Path) -> None:
    environment = prepared_environment(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'medsys.db'}")
    film = tmp_path / "noise.png"
    noise = np.random.default_rng(4).integers(0, 65535, (1500, 2000), dtype=np.uint16)
    Image.fromarray(noise).save(film, compress_level=1)
    with running(environment) as server:
        async with aiohttp.ClientSession() as http:
            headers = await login(http, server.url)
            status, xray = await upload_file(http, server.url, headers, film)
            assert status == 201, xray
            # Ask for the display pixels (rendered first: it takes a moment) and leave at once,
            # before the server has answered (a viewer closed as it opened).
            async with connect(server) as (_reader, writer):
                writer.write(
                    f"GET /api/xrays/{xray['id']}/pixels HTTP/1.1\r\nHost: medsys\r\n"
                    f"Authorization: {headers['Authorization']}\r\n\r\n".encode()
                )
                await writer.drain()
            for path in ("image", "pixels", "thumbnail"):
                # Read the head of the answer, then go away (a viewer closed mid-download).
                async with http.get(
                    f"{server.url}/api/xrays/{xray['id']}/{path}", headers=headers
                ) as response:
                    await response.content.read(1024)
                    response.close()
            async with http.get(f"{server.url}/api/health") as response:
                assert response.status == 200
        output = server.server.stop()
    # The whole log in the message: what raised is the thing to read.
    assert "Traceback" not in output, output
    assert "ERROR" not in output, output


async def test_a_body_still_arriving_when_the_server_stops_is_refused_at_once(
    tmp_path: Path,
) -> None:
    """Once its shutdown begins, aiohttp drops what a connection still sends: an upload half
    way through its body is answered 503 (send it again) at once, instead of 408 after the
    body timeout (30 s here), and does not hold the stop up."""
    environment = prepared_environment(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'medsys.db'}")
    with running(environment) as live:
        async with aiohttp.ClientSession() as http:
            headers = await login(http, live.url)
        async with connect(live) as (reader, writer):
            # 100-continue: the server has routed the request before the SIGTERM.
            writer.write(upload_head(headers["Authorization"], expect_continue=True))
            await writer.drain()
            continuing = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), DEADLINE)
            assert continuing.startswith(b"HTTP/1.1 100"), continuing
            writer.write(IMAGE_PART_START)
            await writer.drain()
            assert live.server.process is not None
            live.server.process.send_signal(signal.SIGTERM)
            answer = await until_closed(reader)
        assert answer.startswith(b"HTTP/1.1 503"), answer[:300]
        assert b"Retry-After" in answer
        assert b"The server is stopping" in answer
        assert await asyncio.to_thread(live.server.process.wait, DEADLINE) == 0
