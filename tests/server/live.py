"""A real server process for the tests that need one (memory, crashes, timeouts, workers)."""

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from devtools.live_server import LiveServer, run_cli, server_environment

PATIENT_EMAIL = "patient@live.example"
PASSWORD = "live server password"


def prepared_environment(data_dir: Path, database_url: str, **extra: str) -> dict[str, str]:
    """A migrated database with one patient, and the environment to serve it."""
    environment = server_environment(data_dir, database_url, **extra)
    for args, stdin in (
        (("migrate",), None),
        (
            (
                "create-user",
                "--usertype",
                "patient",
                "--email",
                PATIENT_EMAIL,
                "--full-name",
                "Live Patient",
                "--password-stdin",
            ),
            f"{PASSWORD}\n",
        ),
    ):
        result = run_cli(environment, *args, stdin=stdin)
        assert result.returncode == 0, result.stderr
    return environment


@dataclass
class Running:
    server: LiveServer
    url: str

    @property
    def pid(self) -> int:
        assert self.server.process is not None
        return self.server.process.pid


@contextlib.contextmanager
def running(environment: dict[str, str], *args: str) -> Iterator[Running]:
    server = LiveServer(environment, args)
    url = server.start()
    try:
        yield Running(server, url)
    finally:
        if server.process is not None and server.process.poll() is None:
            server.stop()
        else:
            server.discard_output()  # killed by the test


async def login(http: aiohttp.ClientSession, url: str) -> dict[str, str]:
    async with http.post(
        f"{url}/api/login", json={"email": PATIENT_EMAIL, "password": PASSWORD}
    ) as response:
        assert response.status == 200, await response.text()
        token = (await response.json())["access_token"]
    return {"Authorization": f"Bearer {token}"}


async def upload_file(
    http: aiohttp.ClientSession, url: str, headers: dict[str, str], path: Path
) -> tuple[int, Any]:
    form = aiohttp.FormData()
    form.add_field("name_of_xray", path.name)
    form.add_field("type_of_xray", "chest")
    with path.open("rb") as handle:
        form.add_field("image", handle, filename=path.name)
        async with http.post(f"{url}/api/xrays", data=form, headers=headers) as response:
            return response.status, await response.json()
