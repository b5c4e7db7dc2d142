"""The display pixels of each film, rendered once: at ingest, in the background, so that the
viewer's first `/pixels` finds them ready; or on first use for films stored before. One render
per film at a time: a request that arrives during a render waits for that render.

A render also makes the film's thumbnail when it has none: a native grey DICOM film is not
decoded on arrival (server/ingest.py), so its thumbnail comes from the same decode as its
display pixels, or from a render run at once when the thumbnail is asked for first.

Background renders run one at a time, and only once arrivals have paused for QUIET_SECONDS
(films filed, and decodes someone waits for: an arrival's check and thumbnail, a viewer's
render): rendering during a burst took the CPU from the arrivals themselves (measured: twenty 15 MB
uploads in a row, 322 ms each instead of 91 with every render queued in the decode gate before
them; 200 films over C-STORE, 13 films/s instead of 21). A viewer asking for a film whose
background render has not started renders it at once.
"""

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from server.decoding import DecodeGate
from server.orm import UnmatchedRow, XRayRow
from server.pixels import cached_transform, render_film
from server.storage import ImageStore
from shared.imaging import PixelTransform, read_header

log = logging.getLogger(__name__)
# How long arrivals must pause before the renders they left start: longer than the gap between
# two films of one burst (a modality's association, a STOW request, an upload queue).
QUIET_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class Film:
    """A stored image as the renderer knows it: its content, and its thumbnail's type."""

    sha256: str
    content_type: str
    thumbnail_type: str

    @classmethod
    def of(cls, row: XRayRow | UnmatchedRow) -> "Film":
        return cls(row.sha256, row.content_type, row.thumbnail_type)


class PixelRenderer:
    def __init__(self, store: ImageStore, gate: DecodeGate) -> None:
        self._store = store
        self._gate = gate
        self._rendering: dict[str, asyncio.Task[PixelTransform]] = {}
        # Films whose background render waits for its turn (not started).
        self._queued: set[str] = set()
        self._background = asyncio.Semaphore(1)
        self._last_arrival = 0.0  # the loop's clock

    async def transform(self, film: Film) -> PixelTransform:
        """The display pixels' transform and statistics, rendering them if they are not yet."""
        transform = await asyncio.to_thread(cached_transform, self._store.pixels_path(film.sha256))
        if transform is not None:
            return transform
        return await self._at_once(film)

    async def thumbnail(self, film: Film) -> Path:
        """Where the film's thumbnail is, made first if it is not yet. When the original is
        gone too, its path all the same: the caller says the file is missing."""
        path = self._store.thumbnail_path(film.sha256, film.thumbnail_type)
        original = self._store.original_path(film.sha256)
        if not await asyncio.to_thread(_made_or_gone, path, original):
            await self._at_once(film)
        return path

    async def _at_once(self, film: Film) -> PixelTransform:
        """Render now: someone waits for it."""
        if film.sha256 in self._queued:  # a viewer is waiting: it does not wait for its turn
            self._queued.discard(film.sha256)
            self._rendering.pop(film.sha256).cancel()
        # Shielded: a viewer that gives up does not cancel a render others may be waiting for.
        return await asyncio.shield(self._render(film, background=False))

    def prerender(self, film: Film) -> None:
        """Render a film that just arrived, in its turn; failures are logged, never raised."""
        self._last_arrival = asyncio.get_running_loop().time()
        self._render(film, background=True).add_done_callback(_log_failure)

    def _render(self, film: Film, *, background: bool) -> asyncio.Task[PixelTransform]:
        sha256 = film.sha256
        task = self._rendering.get(sha256)
        if task is None:
            task = asyncio.create_task(self._in_turn(film) if background else self._run(film))
            self._rendering[sha256] = task
            task.add_done_callback(lambda done: self._forget(sha256, done))
        return task

    def _forget(self, sha256: str, task: asyncio.Task[PixelTransform]) -> None:
        if self._rendering.get(sha256) is task:
            del self._rendering[sha256]

    async def _in_turn(self, film: Film) -> PixelTransform:
        self._queued.add(film.sha256)
        try:
            async with self._background:
                await self._quiet()
                self._queued.discard(film.sha256)
                return await self._run(film, ahead=True)
        finally:
            self._queued.discard(film.sha256)

    async def _run(self, film: Film, *, ahead: bool = False) -> PixelTransform:
        pixels = self._store.pixels_path(film.sha256)
        thumbnail = self._store.thumbnail_path(film.sha256, film.thumbnail_type)
        transform, has_thumbnail = await asyncio.to_thread(_made, pixels, thumbnail)
        if transform is not None and has_thumbnail:
            return transform
        original = self._store.original_path(film.sha256)
        header = await asyncio.to_thread(read_header, original, film.content_type)
        decode = self._gate.decode_ahead if ahead else self._gate.decode
        rendered = await decode(
            header.decode_bytes,
            render_film,
            original,
            header,
            None if transform is not None else pixels,
            None if has_thumbnail else (thumbnail, film.thumbnail_type),
        )
        made = transform or rendered
        assert made is not None  # render_film renders the pixels it is given a path for
        return made

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


def _made(pixels: Path, thumbnail: Path) -> tuple[PixelTransform | None, bool]:
    """The rendered pixels' transform (None: not rendered), and whether the thumbnail is made."""
    return cached_transform(pixels), thumbnail.is_file()


def _made_or_gone(thumbnail: Path, original: Path) -> bool:
    return thumbnail.is_file() or not original.is_file()


def _log_failure(task: asyncio.Task[PixelTransform]) -> None:
    if not task.cancelled() and task.exception() is not None:  # cancelled: a viewer took over
        log.warning("rendering display pixels at ingest failed: %s", task.exception())
