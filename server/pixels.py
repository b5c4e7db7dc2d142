"""Display pixels: the image after the modality LUT, as a grayscale PNG at full depth.

Window/level happens in the client on these values, so nothing is lost to an 8-bit rendering.
PNG holds unsigned values only, so DICOM values are stored as `(value - offset) / scale`; the
client recovers the modality value as `png_value * scale + offset` (usually offset 0, scale 1).
Blocking work; callers run it in a thread.
"""

import json
import os
import uuid
from dataclasses import asdict
from pathlib import Path

import imagecodecs

from server.imaging import write_thumbnail
from shared.imaging import ImageHeader, PixelTransform, display_values, pack


def render_pixels(original: Path, content_type: str, destination: Path) -> PixelTransform:
    """Write the display PNG (and its transform beside it, as JSON); atomic replace of both."""
    values, bits_stored = display_values(original, content_type)
    packed, transform = pack(values, bits_stored)
    destination.parent.mkdir(parents=True, exist_ok=True)
    # Written under temporary names and renamed, the transform first: a PNG that exists
    # always has its transform beside it.
    temporary_png = _partial(destination)
    sidecar = transform_path(destination)
    temporary_sidecar = _partial(sidecar)
    # libpng with every row's filter fixed to Sub, zlib level 1, run-length strategy: a
    # 2800×2800 16-bit film in 0.14 s and 10.9 MB. Pillow tries all five filters on every
    # row and takes 0.34 s for 10.8 MB at the same zlib settings (0.23 s uncompressed); its
    # choice was Sub on nearly every row of a radiograph, whose neighbours differ little.
    encoded = imagecodecs.png_encode(
        packed,
        level=imagecodecs.PNG.COMPRESSION.SPEED,
        strategy=imagecodecs.PNG.STRATEGY.RLE,
        filter=imagecodecs.PNG.FILTER.SUB,
    )
    temporary_png.write_bytes(encoded)
    temporary_sidecar.write_text(json.dumps(asdict(transform)))
    os.replace(temporary_sidecar, sidecar)
    os.replace(temporary_png, destination)
    return transform


def render_film(
    original: Path,
    header: ImageHeader,
    pixels: Path | None,
    thumbnail: tuple[Path, str] | None,
) -> PixelTransform | None:
    """In a decoding worker: what a film still lacks of its display pixels (written to
    `pixels`; their transform returned) and its thumbnail (`thumbnail`: its path and type),
    each replaced atomically."""
    transform = None
    if pixels is not None:
        transform = render_pixels(original, header.content_type, pixels)
    if thumbnail is not None:
        path, kind = thumbnail
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = _partial(path)
        try:
            write_thumbnail(original, header, partial, kind)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
    return transform


def _partial(path: Path) -> Path:
    """A temporary name beside `path`, for a file written whole and then renamed to it."""
    return path.with_name(f"{path.name}.{uuid.uuid4().hex}.partial")


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
