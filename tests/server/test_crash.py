"""Crashes: a server killed at any moment leaves storage and database consistent after its
restart, and the fsck command finds and reports what does not match."""

import asyncio
import hashlib
import io
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from select import select as wait_readable

import aiohttp
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from devtools.live_server import process_tree, run_cli
from server.db import one_session
from server.demo_images import radiograph_pixels, write_dicom
from server.orm import XRayRow
from server.storage import ImageStore
from tests.server.live import PASSWORD, login, prepared_environment, running, upload_file

BURST = 20


def distinct_images(folder: Path, count: int) -> list[Path]:
    """16-bit noise films of about 1 MB each, every one different (no shared storage)."""
    rng = np.random.default_rng(7)
    paths = []
    for number in range(count):
        path = folder / f"film-{number}.png"
        Image.fromarray(rng.integers(0, 4096, (600, 800), dtype=np.uint16)).save(path)
        paths.append(path)
    return paths


async def rows_by_sha256(database_url: str) -> dict[str, str]:
    async with one_session(database_url) as db:
        result = await db.execute(select(XRayRow.sha256, XRayRow.content_type))
        return {sha256: content_type for sha256, content_type in result}


def stored(storage: Path, folder: str) -> list[Path]:
    return [path for path in (storage / folder).rglob("*") if path.is_file()]


async def burst_then_kill(environment: dict[str, str], images: list[Path]) -> set[str]:
    """Upload every image at once and kill -9 the server as soon as the first is stored;
    the names of the uploads it acknowledged."""
    acknowledged: set[str] = set()
    with running(environment) as server:
        async with aiohttp.ClientSession() as http:
            headers = await login(http, server.url)
            pending = {
                asyncio.create_task(upload_file(http, server.url, headers, path)): path
                for path in images
            }
            while pending:
                done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    if not task.exception() and task.result()[0] == 201:
                        acknowledged.add(pending[task].name)
                for task in done:
                    del pending[task]
                if acknowledged:
                    os.kill(server.pid, signal.SIGKILL)
                    break
            for outcome, path in zip(
                await asyncio.gather(*pending, return_exceptions=True),
                pending.values(),
                strict=True,
            ):
                if not isinstance(outcome, BaseException) and outcome[0] == 201:
                    acknowledged.add(path.name)
    return acknowledged


async def test_a_server_killed_mid_burst_leaves_every_file_with_its_row_after_restart(
    tmp_path: Path, database_url: str
) -> None:
    environment = prepared_environment(tmp_path / "data", database_url)
    storage = tmp_path / "data" / "storage"
    images = distinct_images(tmp_path, BURST)
    acknowledged: set[str] = set()
    # The kill must catch uploads between their files and their row; it nearly always does.
    for _ in range(3):
        acknowledged |= await burst_then_kill(environment, images)
        rows = await rows_by_sha256(database_url)
        if any(path.name not in rows for path in stored(storage, "objects")):
            break
    else:
        pytest.fail("the kill never caught an upload between its files and its row")

    with running({**environment, "MEDSYS_ORPHAN_GRACE_SECONDS": "0"}) as server:
        startup_output = server.server.startup_output
    rows = await rows_by_sha256(database_url)
    store = ImageStore(storage)
    originals = stored(storage, "objects")
    assert sorted(path.name for path in originals) == sorted(rows)
    for path in originals:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name
    assert sorted(stored(storage, "thumbnails")) == sorted(
        store.thumbnail_path(sha256, content_type) for sha256, content_type in rows.items()
    )
    # Nothing the server acknowledged was lost.
    digests = {hashlib.sha256(path.read_bytes()).hexdigest(): path.name for path in images}
    assert acknowledged <= {digests[sha256] for sha256 in rows}
    assert "storage check" in startup_output  # the operator reads what was done


def test_fsck_removes_orphans_and_reports_rows_without_files(
    tmp_path: Path, database_url: str
) -> None:
    environment = prepared_environment(tmp_path, database_url)
    storage = tmp_path / "storage"
    images = distinct_images(tmp_path, 2)

    async def upload_two() -> list[int]:
        with running(environment) as server:
            async with aiohttp.ClientSession() as http:
                headers = await login(http, server.url)
                return [
                    (await upload_file(http, server.url, headers, path))[1]["id"] for path in images
                ]

    gone_id, _ = asyncio.run(upload_two())
    orphan = storage / "objects" / "ff" / "ff" / ("f" * 64)
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"an upload whose row was never committed")
    gone_sha256, damaged_sha256 = (hashlib.sha256(path.read_bytes()).hexdigest() for path in images)
    store = ImageStore(storage)
    # A missing thumbnail is only counted: the server makes it again when it is first shown.
    store.thumbnail_path(damaged_sha256, "image/png").unlink()
    store.original_path(gone_sha256).unlink()

    young = run_cli(environment, "fsck")  # the default grace period keeps a fresh orphan
    assert orphan.exists()
    assert "kept 1 younger than the grace period" in young.stdout

    checked = run_cli(environment, "fsck", "--grace-seconds", "0")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert not orphan.exists()
    assert "removed 1 file(s) with no row" in checked.stdout
    assert "1 row(s) without their image" in checked.stdout
    assert f"x-ray(s) {gone_id}: the image is missing" in checked.stderr
    assert "1 whose thumbnail is made when first shown" in checked.stdout

    # A stored image changed on disk is found only by --verify.
    original = store.original_path(damaged_sha256)
    original.write_bytes(b"bit rot")
    verified = run_cli(environment, "fsck", "--grace-seconds", "0", "--verify")
    assert "1 whose image does not match its sha256" in verified.stdout


def still_running(pids: list[int], seconds: float) -> list[int]:
    """Those of `pids` that have not ended within `seconds` (each awaited by its pidfd,
    which becomes readable when its process ends)."""
    waiting: dict[int, int] = {}
    for pid in pids:
        try:
            waiting[os.pidfd_open(pid)] = pid
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + seconds
    try:
        while waiting and (left := deadline - time.monotonic()) > 0:
            for ended in wait_readable(list(waiting), [], [], left)[0]:
                del waiting[ended]
                os.close(ended)
        return sorted(waiting.values())
    finally:
        for pidfd in waiting:
            os.close(pidfd)


async def test_a_killed_server_leaves_no_process_behind(tmp_path: Path) -> None:
    """Its decoding workers and their fork server end with it (a worker would otherwise wait
    for work forever, holding memory and the output a supervisor reads)."""
    environment = prepared_environment(
        tmp_path / "data", f"sqlite+aiosqlite:///{tmp_path / 'medsys.db'}"
    )
    [image] = distinct_images(tmp_path, 1)
    with running(environment) as server:
        async with aiohttp.ClientSession() as http:
            headers = await login(http, server.url)
            assert (await upload_file(http, server.url, headers, image))[0] == 201
        tree = process_tree(server.pid)
        assert len(tree) >= 3  # the server, the fork server, a decoding worker at least
        os.kill(server.pid, signal.SIGKILL)
        assert await asyncio.to_thread(still_running, tree, 30) == []


async def test_a_server_killed_while_a_stow_body_arrives_leaves_nothing_after_restart(
    tmp_path: Path, database_url: str
) -> None:
    """STOW-RS parts are decoded and placed in storage while the rest of the body arrives, and
    filed only once it has all come. A kill in between leaves placed files with no row (and
    the request's own copies of them); the restart's storage check removes them."""
    environment = prepared_environment(tmp_path / "data", database_url)
    storage = tmp_path / "data" / "storage"
    doctor = "doctor@live.example"
    created = run_cli(
        environment,
        *("create-user", "--usertype", "doctor", "--email", doctor, "--full-name", "Live Doctor"),
        "--password-stdin",
        stdin=f"{PASSWORD}\n",
    )
    assert created.returncode == 0, created.stderr
    boundary = "medsys-crash-test"
    parts = []
    for seed in (1, 2, 3):
        film = io.BytesIO()
        write_dicom(film, radiograph_pixels(256, 256, seed=seed), patient_id="NOBODY")
        parts.append(
            f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
            + film.getvalue()
            + b"\r\n"
        )
    with running(environment) as server:

        async def body() -> AsyncIterator[bytes]:
            yield b"".join(parts[:2])  # two whole parts; the third never comes
            deadline = time.monotonic() + 60
            # The server's disk is all there is to watch: nothing is answered before the
            # whole body.
            while not stored(storage, "objects"):
                assert time.monotonic() < deadline, "no part was placed in storage"
                await asyncio.sleep(0.01)
            os.kill(server.pid, signal.SIGKILL)
            yield parts[2][:100]

        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{server.url}/api/login", json={"email": doctor, "password": PASSWORD}
            ) as response:
                token = (await response.json())["access_token"]
            content_type = f"multipart/related; type=application/dicom; boundary={boundary}"
            with pytest.raises(aiohttp.ClientError):
                await http.post(
                    f"{server.url}/dicomweb/studies",
                    data=body(),
                    headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
                )
    assert stored(storage, "objects")  # what the kill left

    with running({**environment, "MEDSYS_ORPHAN_GRACE_SECONDS": "0"}):
        pass
    assert await rows_by_sha256(database_url) == {}
    assert stored(storage, "objects") == []
    assert stored(storage, "thumbnails") == []
    left = [path for path in stored(storage, "tmp") if path.name != ".lock"]
    assert left == []
