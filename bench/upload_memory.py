"""Server memory while receiving uploads: it must not grow with the upload's size, and an image
that decodes to far more than its file (a decompression bomb) must stay within the budget.

Starts a real server process on a throw-away SQLite database and prints the peak resident
memory (VmHWM) and the current one (VmRSS) of the server and its decoding workers, summed,
after each case:
- bodies of 1, 50 and 200 MB streamed from disk (refused as corrupt after being read whole);
- a 10000×10000 16-bit PNG of zeros (194 KB on disk, 200 MB decoded), alone and four at once;
- a DICOM with four 10000×10000 JPEG frames (a few MB on disk, 100 MB per decoded frame).
The target: no case raises the peak by more than 3× the largest decoded frame allowed
(MEDSYS_MAX_DECODED_BYTES), and memory goes back down afterwards.

    .venv/bin/python -m bench.upload_memory
"""

import asyncio
import json
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import aiohttp

from devtools.hostile_images import write_multiframe_jpeg_dicom, write_png_bomb
from devtools.live_server import LiveServer, memory_kb, process_tree, run_cli, server_environment
from server.settings import DEFAULT_MAX_DECODED_BYTES

SIZES_MB = (1, 50, 200)
BOMB_SIDE = 10_000
MAX_DECODED_BYTES = DEFAULT_MAX_DECODED_BYTES


def memory_mb(pid: int) -> tuple[float, float]:
    """(peak, current) resident memory in MB of the server and the processes it started (its
    decoding workers, where the images are decoded), summed over the processes: the sum of
    their peaks is at least their peak together."""
    tree = process_tree(pid)
    return (
        sum(memory_kb(process, "VmHWM") for process in tree) / 1024,
        sum(memory_kb(process, "VmRSS") for process in tree) / 1024,
    )


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


def _upload_sync(url: str, token: str, path: Path) -> tuple[int, float]:
    return asyncio.run(upload(url, token, path))


async def upload_many(url: str, token: str, path: Path, count: int) -> tuple[int, float]:
    started = time.perf_counter()
    outcomes = await asyncio.gather(*(upload(url, token, path) for _ in range(count)))
    statuses = {status for status, _ in outcomes}
    return (statuses.pop() if len(statuses) == 1 else -1), time.perf_counter() - started


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
        png_bomb = write_png_bomb(folder / "bomb-16bit.png", BOMB_SIDE)
        dicom_bomb = write_multiframe_jpeg_dicom(folder / "four-frames.dcm", BOMB_SIDE, 4)
        server = LiveServer(environment)
        url = server.start()
        assert server.process is not None
        pid = server.process.pid
        try:
            token = asyncio.run(login(url))
            start_peak, start_rss = memory_mb(pid)
            print(f"server at start: peak RSS {start_peak:.1f} MB, RSS {start_rss:.1f} MB")
            cases: list[tuple[str, Callable[[], tuple[int, float]]]] = []
            for megabytes in SIZES_MB:
                body = make_body_file(folder, megabytes)
                cases.append((f"{megabytes} MB body", partial(_upload_sync, url, token, body)))
            cases += [
                (
                    f"PNG bomb ({png_bomb.stat().st_size // 1024} KB)",
                    lambda: asyncio.run(upload(url, token, png_bomb)),
                ),
                ("PNG bomb x4 at once", lambda: asyncio.run(upload_many(url, token, png_bomb, 4))),
                (
                    f"4-frame JPEG DICOM ({dicom_bomb.stat().st_size // 1024} KB)",
                    lambda: asyncio.run(upload(url, token, dicom_bomb)),
                ),
                (
                    "4-frame DICOM x4 at once",
                    lambda: asyncio.run(upload_many(url, token, dicom_bomb, 4)),
                ),
            ]
            results = []
            for name, run in cases:
                status, seconds = run()
                peak, rss = memory_mb(pid)
                results.append(
                    {
                        "case": name,
                        "status": status,
                        "seconds": round(seconds, 2),
                        "server_peak_rss_mb": round(peak, 1),
                        "server_rss_after_mb": round(rss, 1),
                    }
                )
                print(
                    f"{name:34} -> HTTP {status} in {seconds:6.2f} s; server peak RSS "
                    f"{peak:7.1f} MB (+{peak - start_peak:6.1f}), RSS after {rss:7.1f} MB"
                )
            limit = 3 * MAX_DECODED_BYTES / 2**20
            final_peak = memory_mb(pid)[0]
            print(
                f"peak rise {final_peak - start_peak:.1f} MB; target at most {limit:.0f} MB "
                f"(3 x the {MAX_DECODED_BYTES / 2**20:.0f} MB decoded-frame limit)"
            )
            print(json.dumps(results))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
