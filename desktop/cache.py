"""On-disk cache of x-ray display pixels, per user, by the original's sha256.

A second open of the same x-ray needs no download. The whole cache of a user is removed at
log-off, so no patient image stays on a shared workstation.
"""

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from shared.imaging import PIXEL_BITS_HEADER, PIXEL_OFFSET_HEADER, PIXEL_SCALE_HEADER


@dataclass(frozen=True, slots=True)
class PixelData:
    """The display pixels of an x-ray: the PNG's path and how to read its values."""

    path: Path
    offset: float
    scale: float
    bits: int


class ImageCache:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _folder(self, user_id: int) -> Path:
        return self.root / str(user_id)

    def pixels_path(self, user_id: int, sha256: str) -> Path:
        return self._folder(user_id) / f"{sha256}.png"

    def lookup(self, user_id: int, sha256: str) -> PixelData | None:
        path = self.pixels_path(user_id, sha256)
        try:
            meta = json.loads(path.with_suffix(".json").read_text())
            if not path.exists():
                return None
            return PixelData(
                path=path, offset=meta["offset"], scale=meta["scale"], bits=meta["bits"]
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def store(self, user_id: int, sha256: str, headers: dict[str, str]) -> PixelData:
        """Record how to read a just-downloaded pixels PNG (from the answer's headers)."""
        path = self.pixels_path(user_id, sha256)
        pixels = PixelData(
            path=path,
            offset=float(headers.get(PIXEL_OFFSET_HEADER, 0)),
            scale=float(headers.get(PIXEL_SCALE_HEADER, 1)),
            bits=int(headers.get(PIXEL_BITS_HEADER, 8)),
        )
        meta = {"offset": pixels.offset, "scale": pixels.scale, "bits": pixels.bits}
        path.with_suffix(".json").write_text(json.dumps(meta))
        return pixels

    def clear(self, user_id: int) -> None:
        shutil.rmtree(self._folder(user_id), ignore_errors=True)
