"""Decompression bombs: an image small on disk and huge decoded must not take the server's
memory (a real server process and its decoding workers; their peak resident memory is read
from /proc)."""

import asyncio
from pathlib import Path

import aiohttp
import pytest

from devtools.hostile_images import write_multiframe_jpeg_dicom, write_png_bomb
from devtools.live_server import memory_kb, process_tree
from tests.server.live import login, prepared_environment, running, upload_file
from tests.server.uploads import png_bytes

SIDE = 6000  # 72 MB decoded at 16 bits, 36 MB per 8-bit frame


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    return prepared_environment(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'medsys.db'}")


def peaks_kb(pid: int) -> dict[int, int]:
    return {process: memory_kb(process, "VmHWM") for process in process_tree(pid)}


async def peak_rise_kb(environment: dict[str, str], path: Path, tmp_path: Path) -> int:
    """How far the peak memory of the server and its decoding workers rises while it takes
    `path` (after warm-up uploads that load the decoders in each worker): the sum of every
    process's rise, since the decode happens in a worker and the upload in the server."""
    warm_up = tmp_path / "small.png"
    warm_up.write_bytes(png_bytes())
    with running(environment) as server:
        async with aiohttp.ClientSession() as http:
            headers = await login(http, server.url)
            for _ in range(4):
                assert (await upload_file(http, server.url, headers, warm_up))[0] == 201
            before = peaks_kb(server.pid)
            status, body = await upload_file(http, server.url, headers, path)
            assert status == 201, body
            after = peaks_kb(server.pid)
            assert len(after) > 1, "the decoding workers are the server's descendants"
            return sum(peak - before.get(process, 0) for process, peak in after.items())


async def test_a_16_bit_png_bomb_costs_about_its_decoded_size(
    environment: dict[str, str], tmp_path: Path
) -> None:
    bomb = write_png_bomb(tmp_path / "bomb.png", SIDE)
    assert bomb.stat().st_size < 200_000
    frame_kb = SIDE * SIDE * 2 // 1024
    # Before the bound it took 5× (a float64 copy of the frame, then 8-bit copies).
    assert await peak_rise_kb(environment, bomb, tmp_path) < 2 * frame_kb


async def test_only_the_first_frame_of_a_dicom_is_decoded(
    environment: dict[str, str], tmp_path: Path
) -> None:
    dicom = write_multiframe_jpeg_dicom(tmp_path / "frames.dcm", SIDE, frames=6)
    frame_kb = SIDE * SIDE // 1024
    # Decoding all six frames took over 12× one frame; the first alone takes 3× at its peak.
    assert await peak_rise_kb(environment, dicom, tmp_path) < 4 * frame_kb


async def test_dicomweb_decodes_wait_their_turn_for_memory(tmp_path: Path) -> None:
    """Frames asked for at once over DICOMweb are decoded within the process's budget, one
    after the other when two do not fit, as uploads are."""
    frame_kb = SIDE * SIDE // 1024  # 8-bit frames
    environment = prepared_environment(
        tmp_path,
        f"sqlite+aiosqlite:///{tmp_path / 'medsys.db'}",
        MEDSYS_MAX_DECODED_BYTES=str(frame_kb * 1024 * 3 // 2),  # one frame fits, two do not
    )
    dicom = write_multiframe_jpeg_dicom(tmp_path / "frames.dcm", SIDE, frames=2)
    with running(environment) as server:
        async with aiohttp.ClientSession() as http:
            headers = await login(http, server.url)
            status, xray = await upload_file(http, server.url, headers, dicom)
            assert status == 201, xray
            frames = (
                f"{server.url}/dicomweb/studies/{xray['study_instance_uid']}/series/"
                f"{xray['series_instance_uid']}/instances/{xray['sop_instance_uid']}/frames/1"
            )

            async def fetch() -> int:
                async with http.get(frames, headers=headers) as response:
                    assert response.status == 200, await response.text()
                    return len(await response.read())

            # The display render the upload started (in a decoding worker) is done first,
            # and a first fetch loads the decoder.
            async with http.get(
                f"{server.url}/api/xrays/{xray['id']}/pixels", headers=headers
            ) as r:
                assert r.status == 200
            await fetch()
            before = peaks_kb(server.pid)
            sizes = await asyncio.gather(*(fetch() for _ in range(4)))
            after = peaks_kb(server.pid)
    assert min(sizes) > frame_kb * 1024  # each answer holds the decoded frame
    rise = sum(peak - before.get(process, 0) for process, peak in after.items())
    # A fetch holds about three copies of its frame (decoded, its bytes, the answer): in
    # turn, four fetches rose by about that (105 MB here); at once, by 230 MB.
    assert rise < 4 * frame_kb
