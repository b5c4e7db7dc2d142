"""Outages look like outages: the database out of reach is a 503 with Retry-After, a full image
store a 507, and /api/health says which part is down (a real server process each time)."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy.engine import make_url

from devtools.live_server import LiveServer
from tests.databases import empty_postgres
from tests.server.live import login, prepared_environment, upload_file
from tests.server.test_dimse import Practice, film, store
from tests.server.uploads import png_bytes
from tests.tcp_proxy import TcpProxy

OUT_OF_RESOURCES = 0xA700  # a C-STORE's status (PS3.4 B.2.3)


async def problem_of(response: aiohttp.ClientResponse, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = await response.json(content_type=None)
    assert body["status"] == status
    return body


@pytest.fixture
async def behind_proxy(
    postgres_url: str | None, tmp_path: Path
) -> AsyncIterator[tuple[str, TcpProxy]]:
    """A server whose PostgreSQL connections all pass through a proxy the test controls."""
    if postgres_url is None:
        pytest.skip("no PostgreSQL: set MEDSYS_TEST_POSTGRES_URL or run one on 127.0.0.1:5432")
    await empty_postgres(postgres_url)
    environment = prepared_environment(tmp_path, postgres_url)
    database = make_url(postgres_url)
    proxy = TcpProxy(database.host or "127.0.0.1", database.port or 5432)
    port = await proxy.start()
    environment["MEDSYS_DATABASE_URL"] = database.set(port=port).render_as_string(False)
    server = LiveServer(environment)
    # In threads: the server talks to the database through this loop's proxy while starting
    # and stopping.
    url = await asyncio.to_thread(server.start)
    try:
        yield url, proxy
    finally:
        await proxy.restore()
        await asyncio.to_thread(server.stop)
        await proxy.close()


async def test_while_the_database_is_away_requests_get_503_and_nothing_half_done(
    behind_proxy: tuple[str, TcpProxy],
) -> None:
    url, proxy = behind_proxy
    async with aiohttp.ClientSession() as http:
        headers = await login(http, url)
        async with http.get(f"{url}/api/profile", headers=headers) as response:
            assert response.status == 200

        await proxy.cut()
        for method, path, body in (
            ("GET", "/api/profile", None),
            ("GET", "/api/questions", None),
            ("POST", "/api/questions", {"question_text": "Is this broken?"}),
            ("POST", "/api/login", {"email": "x@example.org", "password": "whatever"}),
        ):
            async with http.request(method, f"{url}{path}", headers=headers, json=body) as response:
                problem = await problem_of(response, 503)
                assert int(response.headers["Retry-After"]) > 0
                assert "database" in problem["detail"]
        async with http.get(f"{url}/api/health") as response:
            health = await problem_of(response, 503)
            assert (health["database"], health["storage"]) == ("unavailable", "ok")

        await proxy.restore()
        async with http.get(f"{url}/api/health") as response:
            assert await response.json() == {"status": "ok", "database": "ok", "storage": "ok"}
        async with http.get(f"{url}/api/questions", headers=headers) as response:
            assert response.status == 200
            assert (await response.json())["items"] == []  # the refused question left no row


async def test_a_full_image_store_is_507_and_health_says_so(
    database_url: str, tmp_path: Path
) -> None:
    """An upload is refused with 507; a film sent over DICOM, with Out of Resources (what a
    modality retries later); neither is filed."""
    environment = prepared_environment(tmp_path, database_url, MEDSYS_DICOM_PEERS="MODALITY")
    storage = tmp_path / "small-disk"
    storage.mkdir()
    environment["MEDSYS_STORAGE_DIR"] = str(storage)
    # The server runs in a mount namespace of its own, with a 1 MB disk as its image store
    # that is filled up before it starts.
    fill_then_serve = (
        'mount -t tmpfs -o size=1m tmpfs "$MEDSYS_STORAGE_DIR" '
        '&& { cat /dev/zero > "$MEDSYS_STORAGE_DIR/filler" 2>/dev/null; exec "$@"; }'
    )
    server = LiveServer(
        environment,
        ("--dicom-port", "0"),
        prefix=("unshare", "-m", "sh", "-c", fill_then_serve, "sh"),
    )
    url = server.start()
    dicom_port = Practice(server).dicom_port
    image = tmp_path / "film.png"
    image.write_bytes(png_bytes(400, 400))
    try:
        async with aiohttp.ClientSession() as http:
            headers = await login(http, url)
            status, problem = await upload_file(http, url, headers, image)
            assert status == 507, problem
            assert "image store is full" in problem["detail"]
            async with http.get(f"{url}/api/health") as response:
                health = await problem_of(response, 503)
                assert (health["database"], health["storage"]) == ("ok", "full")
            async with http.get(
                f"{url}/api/xrays/{(await _me(http, url, headers))}", headers=headers
            ) as response:
                assert (await response.json())["items"] == []  # no row for the refused upload
            async with http.get(f"{url}/api/profile", headers=headers) as response:
                me = await response.json()
            film_of_mine = film(me["medical_record_number"])
            statuses = await asyncio.to_thread(store, dicom_port, [film_of_mine])
            assert statuses == [OUT_OF_RESOURCES]
            async with http.get(f"{url}/api/xrays/{me['id']}", headers=headers) as response:
                assert (await response.json())["items"] == []
    finally:
        server.stop()


async def _me(http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> int:
    async with http.get(f"{url}/api/profile", headers=headers) as response:
        return int((await response.json())["id"])
