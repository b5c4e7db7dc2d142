"""The display pixels of each film, rendered once: at ingest, in the background, so that the
viewer's first `/pixels` finds them ready; or on first use for films stored before. One render
per film at a time: a request that arrives during a render waits for that render.

Background renders run one at a time, and only once arrivals have paused for QUIET_SECONDS
(films filed, and decodes someone waits for: an arrival's check and thumbnail, a viewer's
render): rendering during a burst took the CPU from the arrivals themselves (measured: twenty 15 MB
uploads in a row, 322 ms each instead of 91 with every render queued in the decode gate before
them; 200 films over C-STORE, 13 films/s instead of 21). A viewer asking for a film whose
background render has not started renders it at once.
"""

import asyncio
import logging
from pathlib import Path

from server.decoding import DecodeGate
from server.pixels import cached_transform, render_pixels
from server.storage import ImageStore
from shared.imaging import PixelTransform, read_header

log = logging.getLogger(__name__)
# How long arrivals must pause before the renders they left start: longer than the gap between
# two films of one burst (a modality's association, a STOW request, an upload queue).
QUIET_SECONDS = 0.5


class PixelRenderer:
    def __init__(self, store: ImageStore, gate: DecodeGate) -> None:
        self._store = store
        self._gate = gate
        self._rendering: dict[str, asyncio.Task[PixelTransform]] = {}
        # Films whose background render waits for its turn (not started).
        self._queued: set[str] = set()
        self._background = asyncio.Semaphore(1)
        self._last_arrival = 0.0  # the loop's clock

    async def transform(self, sha256: str, content_type: str) -> PixelTransform:
        """The display pixels' transform and statistics, rendering them if they are not yet."""
        path = self._store.pixels_path(sha256)
        transform = await asyncio.to_thread(cached_transform, path)
        if transform is not None:
            return transform
        if sha256 in self._queued:  # a viewer is waiting: it does not wait for its turn
            self._queued.discard(sha256)
            self._rendering.pop(sha256).cancel()
        # Shielded: a viewer that gives up does not cancel a render others may be waiting for.
        return await asyncio.shield(self._render(sha256, content_type, path, background=False))

    def prerender(self, sha256: str, content_type: str) -> None:
        """Render a film that just arrived, in its turn; failures are logged, never raised."""
        self._last_arrival = asyncio.get_running_loop().time()
        path = self._store.pixels_path(sha256)
        self._render(sha256, content_type, path, background=True).add_done_callback(_log_failure)

    def _render(
        self, sha256: str, content_type: str, path: Path, *, background: bool
    ) -> asyncio.Task[PixelTransform]:
        task = self._rendering.get(sha256)
        if task is None:
            if background:
                task = asyncio.create_task(self._in_turn(sha256, content_type, path))
            else:
                task = asyncio.create_task(self._run(sha256, content_type, path))
            self._rendering[sha256] = task
            task.add_done_callback(lambda done: self._forget(sha256, done))
        return task

    def _forget(self, sha256: str, task: asyncio.Task[PixelTransform]) -> None:
        if self._rendering.get(sha256) is task:
            del self._rendering[sha256]

    async def _in_turn(self, sha256: str, content_type: str, path: Path) -> PixelTransform:
        self._queued.add(sha256)
        try:
            async with self._background:
                await self._quiet()
                self._queued.discard(sha256)
                return await self._run(sha256, content_type, path, ahead=True)
        finally:
            self._queued.discard(sha256)

    async def _run(
        self, sha256: str, content_type: str, path: Path, *, ahead: bool = False
    ) -> PixelTransform:
        transform = await asyncio.to_thread(cached_transform, path)
        if transform is not None:
            return transform
        original = self._store.original_path(sha256)
        header = await asyncio.to_thread(read_header, original, content_type)
        decode = self._gate.decode_ahead if ahead else self._gate.decode
        return await decode(header.decode_bytes, render_pixels, original, content_type, path)

    async def _quiet(self) -> None:
        """Until no film has arrived for QUIET_SECONDS (the last one included). Once they
        have paused, the queued renders follow one another without waiting again."""
        loop = asyncio.get_running_loop()
        # A deadline that each arrival moves on, checked when it falls due: waking on every
        # arrival (an Event) would only cost the burst's CPU.
        while (left := self._quiet_from() + QUIET_SECONDS - loop.time()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(left)

    def _quiet_from(self) -> float:
        """When arrivals (and the decodes viewers wait for) last went on."""
        return max(self._last_arrival, self._gate.last_busy())

    async def idle(self) -> None:
        """Wait for the renders under way to end (however they end)."""
        while self._rendering:
            await asyncio.gather(*self._rendering.values(), return_exceptions=True)

    async def close(self) -> None:
        """At shutdown: end the renders under way (a half-written render leaves only a
        temporary file, removed with the process's temporary folder or by the storage check)."""
        tasks = list(self._rendering.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _log_failure(task: asyncio.Task[PixelTransform]) -> None:
    if not task.cancelled() and task.exception() is not None:  # cancelled: a viewer took over
        log.warning("rendering display pixels at ingest failed: %s", task.exception())
