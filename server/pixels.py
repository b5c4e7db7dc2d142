"""Display pixels: the image after the modality LUT, as a grayscale PNG at full depth.

Window/level happens in the client on these values, so nothing is lost to an 8-bit rendering.
PNG holds unsigned values only, so DICOM values are stored as `(value - offset) / scale`; the
client recovers the modality value as `png_value * scale + offset` (usually offset 0, scale 1).
Blocking work; callers run it in a thread.
"""

import json
import os
import uuid
import zlib
from dataclasses import asdict
from pathlib import Path

from PIL import Image

from shared.imaging import PixelTransform, display_values, pack


def render_pixels(original: Path, content_type: str, destination: Path) -> PixelTransform:
    """Write the display PNG (and its transform beside it, as JSON); atomic replace of both."""
    values, bits_stored = display_values(original, content_type)
    packed, transform = pack(values, bits_stored)
    destination.parent.mkdir(parents=True, exist_ok=True)
    # Written under temporary names and renamed, the transform first: a PNG that exists
    # always has its transform beside it.
    temporary_png = destination.with_name(f"{destination.name}.{uuid.uuid4().hex}.partial")
    sidecar = transform_path(destination)
    temporary_sidecar = sidecar.with_name(f"{sidecar.name}.{uuid.uuid4().hex}.partial")
    # zlib level 1 with its run-length strategy: a 2800×2800 16-bit film in 0.34 s and
    # 10.8 MB, against 0.50 s and 11.2 MB at level 1's default strategy and 2.2 s at the
    # default level (level 0, no compression: 0.23 s, 15.7 MB; the rest is PNG's filtering).
    Image.fromarray(packed).save(temporary_png, "PNG", compress_level=1, compress_type=zlib.Z_RLE)
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
