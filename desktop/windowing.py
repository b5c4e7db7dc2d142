"""Window/level on stored pixel values, with numpy.

The display PNG holds stored values `s`; the modality value is `s * scale + offset`. A window
(center, width) in modality units becomes a lookup table from every possible stored value to an
8-bit grey, so that re-windowing a 16-bit image is one table lookup per shown pixel.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Window:
    center: float
    width: float

    def __post_init__(self) -> None:
        if self.width <= 0:
            raise ValueError("a window has a positive width")


def window_lut(
    bits: int, offset: float, scale: float, window: Window, inverted: bool
) -> np.ndarray:
    """uint8 grey for every stored value 0..2**bits-1 (a linear VOI window, DICOM C.11.2.1.2)."""
    stored = np.arange(2**bits, dtype=np.float32)
    modality = stored * np.float32(scale) + np.float32(offset)
    low = window.center - window.width / 2
    grey = np.clip((modality - low) * np.float32(255.0 / window.width), 0, 255)
    lut: np.ndarray = grey.astype(np.uint8)
    if inverted:
        lut = np.uint8(255) - lut
    return lut


def robust_window(stored: np.ndarray, offset: float, scale: float) -> Window:
    """From the 0.5th to the 99.5th percentile of the values (on a sample, for speed)."""
    sample = stored[:: max(1, stored.shape[0] // 512), :: max(1, stored.shape[1] // 512)]
    low, high = (float(v) * scale + offset for v in np.percentile(sample, [0.5, 99.5]))
    if high <= low:
        low, high = float(stored.min()) * scale + offset, float(stored.max()) * scale + offset + 1
    return Window(center=(low + high) / 2, width=high - low)


def full_window(stored: np.ndarray, offset: float, scale: float) -> Window:
    low, high = float(stored.min()) * scale + offset, float(stored.max()) * scale + offset
    return Window(center=(low + high) / 2, width=max(high - low, 1.0))
