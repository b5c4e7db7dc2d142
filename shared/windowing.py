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


# The robust range is read on a sample of at most this many values a side (for speed).
ROBUST_SAMPLE_SIDE = 1024


def robust_range(values: np.ndarray) -> tuple[float, float]:
    """The 0.5th and 99.5th percentile of the values: what "Auto" spans, whatever the few
    brightest and darkest pixels (labels, collimator edges) are."""
    sample = values[
        :: max(1, values.shape[0] // ROBUST_SAMPLE_SIDE),
        :: max(1, values.shape[1] // ROBUST_SAMPLE_SIDE),
    ]
    low, high = (float(v) for v in np.percentile(sample, [0.5, 99.5]))
    return low, high


def window_between(low: float, high: float) -> Window:
    """The window that shows low..high from black to white (at least one unit wide)."""
    return Window(center=(low + high) / 2, width=max(high - low, 1.0))


def robust_window(stored: np.ndarray, offset: float, scale: float) -> Window:
    """The "Auto" window of stored values, in modality units: the same as the server's
    "Auto (robust)" preset of the same image."""
    low, high = robust_range(stored)
    return window_between(low * scale + offset, high * scale + offset)


def full_window(stored: np.ndarray, offset: float, scale: float) -> Window:
    low, high = float(stored.min()) * scale + offset, float(stored.max()) * scale + offset
    return window_between(low, high)
