"""Getting an x-ray's display pixels: from the per-user cache, or downloaded into it, then
decoded and windowed to 8 bits. Runs on the worker thread; the GUI only makes the pixmap."""

import asyncio
from dataclasses import dataclass

import numpy as np
from PIL import Image
from PySide6.QtGui import QImage

from desktop.api import ApiClient, PixelData
from desktop.cache import ImageCache
from desktop.runner import Progress
from shared.models import XRay


@dataclass(frozen=True, slots=True)
class DisplayImage:
    """Modality values (float32) and their auto-windowed 8-bit rendering."""

    values: np.ndarray
    image: QImage
    from_cache: bool


def auto_window(values: np.ndarray) -> tuple[float, float]:
    """A robust window (center, width): the 0.5th to 99.5th percentile of the values."""
    sample = values[:: max(1, values.shape[0] // 512), :: max(1, values.shape[1] // 512)]
    low, high = np.percentile(sample, [0.5, 99.5])
    if high <= low:
        low, high = float(values.min()), float(values.max()) + 1
    return (float(low) + float(high)) / 2, float(high) - float(low)


def window_to_8bit(values: np.ndarray, center: float, width: float) -> np.ndarray:
    low = center - width / 2
    scaled = (values - low) * (255.0 / max(width, 1e-6))
    return np.clip(scaled, 0, 255).astype(np.uint8)


def to_qimage(gray: np.ndarray) -> QImage:
    gray = np.ascontiguousarray(gray)
    height, width = gray.shape
    # copy(): the QImage must own its bytes once the numpy array is gone.
    return QImage(gray.data, width, height, width, QImage.Format.Format_Grayscale8).copy()


def decode(pixels: PixelData) -> np.ndarray:
    with Image.open(pixels.path) as image:
        stored = np.asarray(image)
    return stored.astype(np.float32) * np.float32(pixels.scale) + np.float32(pixels.offset)


async def load_display_image(
    api: ApiClient, cache: ImageCache, user_id: int, xray: XRay, progress: Progress
) -> DisplayImage:
    pixels = cache.lookup(user_id, xray.sha256)
    from_cache = pixels is not None
    if pixels is None:
        destination = cache.pixels_path(user_id, xray.sha256)
        headers = await api.download(f"/api/xrays/{xray.id}/pixels", destination, progress)
        pixels = cache.store(user_id, xray.sha256, headers)
    values = await asyncio.to_thread(decode, pixels)
    center, width = auto_window(values)
    image = await asyncio.to_thread(lambda: to_qimage(window_to_8bit(values, center, width)))
    return DisplayImage(values=values, image=image, from_cache=from_cache)
