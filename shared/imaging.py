"""Decoding x-ray images into display values, the same way on the server and in the desktop's
local preview: PNG, JPEG and DICOM, after the modality LUT, at full depth.

Pure numpy/Pillow/pydicom: no Qt and no SQLAlchemy, like the rest of `shared`.
PNG holds unsigned values only, so values are stored as `(value - offset) / scale`; a reader
recovers the modality value as `stored * scale + offset` (usually offset 0, scale 1).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image
from pydicom.pixels.processing import apply_modality_lut

PNG = "image/png"
JPEG = "image/jpeg"
DICOM = "application/dicom"
HEAD_BYTES = 132  # enough to recognise PNG, JPEG and DICOM ("DICM" at offset 128)
MAX_16_BIT = 65535


def sniff_content_type(head: bytes) -> str | None:
    """The media type from the first 132 bytes of a file, or None if it is none we accept."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if len(head) >= HEAD_BYTES and head[128:132] == b"DICM":
        return DICOM
    return None


@dataclass(frozen=True, slots=True)
class PixelTransform:
    """How to read stored display values, and the value range found (modality units)."""

    offset: float
    scale: float
    bits: int
    low: float  # the smallest and largest value
    high: float
    robust_low: float  # the 0.5th and 99.5th percentile: what a robust auto window spans
    robust_high: float


def _gray(image: Image.Image) -> np.ndarray:
    if image.mode in ("I;16", "I;16B", "I;16L"):
        return np.asarray(image, dtype=np.uint16)
    if image.mode in ("I", "F"):
        return np.asarray(image)
    if image.mode == "L":
        return np.asarray(image, dtype=np.uint8)
    return np.asarray(image.convert("L"), dtype=np.uint8)


def _dicom_values(path: Path) -> tuple[np.ndarray, int]:
    dataset = pydicom.dcmread(path)
    frames = dataset.pixel_array
    frame = frames[0] if int(dataset.get("NumberOfFrames", 1) or 1) > 1 else frames
    if frame.ndim == 3:  # colour DICOM: luminance, as any grayscale reader would
        weights = np.array([0.299, 0.587, 0.114])
        return (frame[..., :3] @ weights).astype(np.uint8), 8
    return apply_modality_lut(frame, dataset), int(dataset.get("BitsStored", 16))


def pack(values: np.ndarray, bits_stored: int) -> tuple[np.ndarray, PixelTransform]:
    """Fit values into uint8 (8-bit sources) or uint16, recording how to undo the fit."""
    low, high = float(values.min()), float(values.max())
    sample = values[:: max(1, values.shape[0] // 1024), :: max(1, values.shape[1] // 1024)]
    robust_low, robust_high = (float(v) for v in np.percentile(sample, [0.5, 99.5]))
    stats = {"low": low, "high": high, "robust_low": robust_low, "robust_high": robust_high}
    if values.dtype == np.uint8 or (bits_stored <= 8 and low >= 0 and high <= 255):
        return values.astype(np.uint8), PixelTransform(offset=0.0, scale=1.0, bits=8, **stats)
    offset = min(low, 0.0)
    span = high - offset
    scale = span / MAX_16_BIT if span > MAX_16_BIT else 1.0
    integral = np.issubdtype(values.dtype, np.integer) and scale == 1.0
    shifted = (values - offset) / scale
    packed = (shifted if integral else np.rint(shifted)).astype(np.uint16)
    return packed, PixelTransform(offset=offset, scale=scale, bits=16, **stats)


def display_values(path: Path, content_type: str) -> tuple[np.ndarray, int]:
    """The image's values after the modality LUT (grey), and how many bits its source holds."""
    if content_type == DICOM:
        return _dicom_values(path)
    with Image.open(path) as image:
        values = _gray(image)
    return values, 16 if values.dtype != np.uint8 else 8
