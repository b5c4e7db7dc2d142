"""Server memory while receiving uploads of growing size (it must not grow with the size).

Starts a real server process on a throw-away SQLite database, uploads bodies of 1, 50 and
200 MB from disk, and prints the server's peak resident memory (VmHWM) after each.

    .venv/bin/python bench/upload_memory.py
"""

import asyncio
import json
import tempfile
import time
from pathlib import Path

import aiohttp

from server.child import LiveServer, run_cli, server_environment

SIZES_MB = (1, 50, 200)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def make_body_file(folder: Path, megabytes: int) -> Path:
    # A PNG signature followed by zeros: the server streams all of it, hashes it, then
    # refuses it as a corrupt image, which exercises the whole receive path.
    path = folder / f"upload-{megabytes}.png"
    with path.open("wb") as handle:
        handle.write(b"\x89PNG\r\n\x1a\n")
        block = b"\x00" * (1024 * 1024)
        for _ in range(megabytes):
            handle.write(block)
    return path


async def upload(url: str, token: str, path: Path) -> tuple[int, float]:
    data = aiohttp.FormData()
    data.add_field("name_of_xray", "Bench")
    data.add_field("type_of_xray", "chest")
    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        with path.open("rb") as handle:
            data.add_field("image", handle, filename=path.name, content_type="image/png")
            async with session.post(
                f"{url}/api/xrays", data=data, headers={"Authorization": f"Bearer {token}"}
            ) as response:
                await response.read()
                return response.status, time.perf_counter() - started


async def login(url: str) -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{url}/api/login", json={"email": "bench@example.org", "password": "bench password"}
        ) as response,
    ):
        return str((await response.json())["access_token"])


def main() -> None:
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        environment = server_environment(
            folder,
            f"sqlite+aiosqlite:///{folder / 'bench.db'}",
            MEDSYS_MAX_UPLOAD_BYTES=str(300 * 1024 * 1024),
        )
        run_cli(environment, "migrate")
        run_cli(
            environment,
            "create-user",
            "--usertype",
            "patient",
            "--email",
            "bench@example.org",
            "--full-name",
            "Bench",
            "--password-stdin",
            stdin="bench password\n",
        )
        server = LiveServer(environment)
        url = server.start()
        assert server.process is not None
        try:
            token = asyncio.run(login(url))
            print(f"server peak RSS at start: {peak_rss_mb(server.process.pid):.1f} MB")
            results = []
            for megabytes in SIZES_MB:
                body = make_body_file(folder, megabytes)
                status, seconds = asyncio.run(upload(url, token, body))
                body.unlink()
                peak = peak_rss_mb(server.process.pid)
                results.append(
                    {
                        "upload_mb": megabytes,
                        "status": status,
                        "seconds": round(seconds, 2),
                        "server_peak_rss_mb": round(peak, 1),
                    }
                )
                print(
                    f"upload {megabytes:4d} MB -> HTTP {status} in {seconds:6.2f} s; "
                    f"server peak RSS {peak:.1f} MB"
                )
            print(json.dumps(results))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
