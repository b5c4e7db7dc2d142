"""Display pixels: the image after the modality LUT, as a grayscale PNG at full depth.

Window/level happens in the client on these values, so nothing is lost to an 8-bit rendering.
PNG holds unsigned values only, so DICOM values are stored as `(value - offset) / scale`; the
client recovers the modality value as `png_value * scale + offset` (usually offset 0, scale 1).
Blocking work; callers run it in a thread.
"""

import json
import os
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image
from pydicom.pixels.processing import apply_modality_lut

from server.imaging import DICOM

MAX_16_BIT = 65535


@dataclass(frozen=True, slots=True)
class PixelTransform:
    """How to read the display PNG, and the value range found in it (modality units)."""

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


def _pack(values: np.ndarray, bits_stored: int) -> tuple[np.ndarray, PixelTransform]:
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


def render_pixels(original: Path, content_type: str, destination: Path) -> PixelTransform:
    """Write the display PNG (and its transform beside it, as JSON); atomic replace of both."""
    if content_type == DICOM:
        values, bits_stored = _dicom_values(original)
    else:
        with Image.open(original) as image:
            values = _gray(image)
        bits_stored = 16 if values.dtype != np.uint8 else 8
    packed, transform = _pack(values, bits_stored)
    destination.parent.mkdir(parents=True, exist_ok=True)
    # Written under temporary names and renamed, the transform first: a PNG that exists
    # always has its transform beside it.
    temporary_png = destination.with_name(f"{destination.name}.{uuid.uuid4().hex}.partial")
    sidecar = transform_path(destination)
    temporary_sidecar = sidecar.with_name(f"{sidecar.name}.{uuid.uuid4().hex}.partial")
    Image.fromarray(packed).save(temporary_png, "PNG")
    temporary_sidecar.write_text(json.dumps(asdict(transform)))
    os.replace(temporary_sidecar, sidecar)
    os.replace(temporary_png, destination)
    return transform


def transform_path(pixels_png: Path) -> Path:
    return pixels_png.with_suffix(".json")


def cached_transform(pixels_png: Path) -> PixelTransform | None:
    """The transform of an already rendered PNG, or None when it must be rendered."""
    if not pixels_png.exists():
        return None
    try:
        return PixelTransform(**json.loads(transform_path(pixels_png).read_text()))
    except (OSError, ValueError, TypeError):
        return None
