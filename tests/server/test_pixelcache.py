"""Background renders (a film's display pixels, and its thumbnail when it has none, made
before a viewer asks) wait for a pause in the work someone waits for."""

import asyncio
import hashlib
from pathlib import Path

import pytest

from server import pixelcache
from server.decoding import DecodeGate
from server.demo_images import radiograph_pixels, write_dicom
from server.imaging import ImageLimits
from server.ingest import examine
from server.pixelcache import Film, PixelRenderer
from server.storage import ImageStore
from shared.imaging import DICOM, JPEG
from tests.server.handshake import Handshake, in_worker

MB = 1024 * 1024
LIMITS = ImageLimits(max_pixels=10**8, max_decoded_bytes=256 * MB)


def _store_with_a_film(tmp_path: Path) -> tuple[ImageStore, str]:
    """An image store holding one film's original, filed under a made-up sha256."""
    store = ImageStore(tmp_path / "storage")
    store.prepare()
    sha256 = "ab" * 32
    original = store.original_path(sha256)
    original.parent.mkdir(parents=True)
    write_dicom(original, radiograph_pixels(256, 256, seed=3))
    return store, sha256


async def test_a_background_render_waits_while_an_arrival_is_being_decoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A STOW-RS request's films are decoded as they arrive but filed only once the whole
    body has: the render of an earlier film must not take a worker from them meanwhile."""
    monkeypatch.setattr(pixelcache, "QUIET_SECONDS", 0.05)
    store, sha256 = _store_with_a_film(tmp_path)
    gate = DecodeGate(budget_bytes=100 * MB, max_running=2)  # a worker free for the render
    renderer = PixelRenderer(store, gate)
    handshake = Handshake(tmp_path)
    try:
        await gate.start()
        arrival = asyncio.create_task(gate.decode(MB, in_worker, handshake.started, handshake.go))
        await handshake.wait_started()
        renderer.prerender(Film(sha256, DICOM, JPEG))
        # Ten times the pause it waits for, and a free worker: still not rendered.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.shield(renderer.idle()), 0.5)
        assert not store.pixels_path(sha256).exists()
        assert not store.thumbnail_path(sha256, JPEG).exists()
        await handshake.let_go()
        await arrival
        await asyncio.wait_for(renderer.idle(), 30)
        assert store.pixels_path(sha256).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert store.thumbnail_path(sha256, JPEG).read_bytes()[:3] == b"\xff\xd8\xff"
    finally:
        handshake.release()
        await renderer.close()
        await asyncio.to_thread(gate.close)
        store.close()


async def test_a_background_render_waits_while_films_arrive_without_decodes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Native grey films are stored without a decode; a burst of them (their headers read in
    the workers, as every arrival's are) holds the renders of the films filed before it off
    as decoding arrivals do."""
    monkeypatch.setattr(pixelcache, "QUIET_SECONDS", 0.3)
    store, sha256 = _store_with_a_film(tmp_path)
    gate = DecodeGate(budget_bytes=100 * MB, max_running=2)
    renderer = PixelRenderer(store, gate)
    try:
        await gate.start()
        renderer.prerender(Film(sha256, DICOM, JPEG))
        loop = asyncio.get_running_loop()
        burst_ends = loop.time() + 1.0  # over three times the pause the render waits for
        while loop.time() < burst_ends:
            arrival = tmp_path / "arrival.dcm"
            write_dicom(arrival, radiograph_pixels(64, 64, seed=5))
            sha = hashlib.sha256(arrival.read_bytes()).hexdigest()
            header, stored = await examine(store, gate, LIMITS, arrival, DICOM, sha)
            assert header.checked_without_decoding
            assert stored is not None  # placed with its header read: no decode
            await asyncio.sleep(0.02)
        assert not store.pixels_path(sha256).exists()
        await asyncio.wait_for(renderer.idle(), 30)
        assert store.pixels_path(sha256).exists()
    finally:
        await renderer.close()
        await asyncio.to_thread(gate.close)
        store.close()
