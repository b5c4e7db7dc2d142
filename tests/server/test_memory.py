"""Decompression bombs: an image small on disk and huge decoded must not take the server's
memory (a real server process and its decoding workers; their peak resident memory is read
from /proc)."""

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
