"""Recognising, validating and thumbnailing x-ray images (PNG, JPEG, DICOM).

Everything here is blocking CPU or disk work; callers run it in a thread.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image
from pydicom.errors import InvalidDicomError
from pydicom.pixels.processing import apply_modality_lut, apply_voi_lut

from shared.imaging import DICOM, JPEG, PNG, sniff_content_type

# Pillow's own bomb check counts against a fixed global; medsys enforces its configured
# per-frame limit itself, before any decoding, so the global check is switched off.
Image.MAX_IMAGE_PIXELS = None

THUMBNAIL_SIZE = 256


class ImageRejected(Exception):
    """The file is of a known kind but cannot be used; the message says why, for the user."""


@dataclass(frozen=True, slots=True)
class ImageInfo:
    content_type: str
    width: int
    height: int


def _reason(error: BaseException, path: Path) -> str:
    """A decoder's message for the user, without the server's file-system path in it."""
    return str(error).replace(str(path), "the file").strip() or type(error).__name__


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise ImageRejected("The image has no pixels.")
    if width * height > max_pixels:
        raise ImageRejected(
            f"The image is {width}×{height} pixels, more than the {max_pixels} allowed per frame."
        )


def _to_8bit(pixels: np.ndarray) -> np.ndarray:
    """Stretch any grayscale array to 0..255 for display."""
    pixels = pixels.astype(np.float64, copy=False)
    low, high = float(np.min(pixels)), float(np.max(pixels))
    if high <= low:
        return np.zeros(pixels.shape, dtype=np.uint8)
    return ((pixels - low) * (255.0 / (high - low))).astype(np.uint8)


def _decode_raster(path: Path, content_type: str, max_pixels: int) -> Image.Image:
    try:
        # The file is closed on the way out, also when decoding fails; the pixels stay loaded.
        with Image.open(path) as image:
            _check_pixels(image.width, image.height, max_pixels)
            image.load()  # decodes every pixel: a truncated or corrupt file fails here
    except ImageRejected:
        raise
    except (OSError, SyntaxError, ValueError) as error:
        kind = "PNG" if content_type == PNG else "JPEG"
        raise ImageRejected(
            f"The file is not a readable {kind} image ({_reason(error, path)})."
        ) from None
    return image


def _decode_dicom(path: Path, max_pixels: int) -> tuple[Image.Image, int, int]:
    try:
        dataset = pydicom.dcmread(path)
    except (InvalidDicomError, OSError, ValueError, EOFError) as error:
        raise ImageRejected(
            f"The file is not a readable DICOM file ({_reason(error, path)})."
        ) from None
    if "PixelData" not in dataset:
        raise ImageRejected("The DICOM file holds no pixel data.")
    width, height = int(dataset.get("Columns", 0)), int(dataset.get("Rows", 0))
    _check_pixels(width, height, max_pixels)
    try:
        frames = dataset.pixel_array
    except Exception as error:  # pydicom raises many kinds for undecodable pixel data
        syntax = dataset.file_meta.get("TransferSyntaxUID", "unknown")
        name = getattr(syntax, "name", str(syntax))
        raise ImageRejected(
            f"The DICOM pixel data cannot be decoded (transfer syntax {name}): "
            f"{_reason(error, path)}"
        ) from None
    frame = frames[0] if int(dataset.get("NumberOfFrames", 1) or 1) > 1 else frames
    photometric = str(dataset.get("PhotometricInterpretation", "MONOCHROME2"))
    if frame.ndim == 3:  # colour: already display-ready
        return Image.fromarray(_to_8bit(frame)).convert("RGB"), width, height
    display = apply_voi_lut(apply_modality_lut(frame, dataset), dataset)
    display_8bit = _to_8bit(display)
    if photometric == "MONOCHROME1":  # MONOCHROME1 shows low values bright
        display_8bit = 255 - display_8bit
    return Image.fromarray(display_8bit, mode="L"), width, height


def _display_image(image: Image.Image) -> Image.Image:
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        return Image.fromarray(_to_8bit(np.asarray(image)), mode="L")
    if image.mode in ("L", "RGB"):
        return image
    return image.convert("RGBA" if "A" in image.getbands() else "RGB")


def validate_and_thumbnail(
    path: Path, head: bytes, max_pixels: int, thumbnail_path: Path
) -> ImageInfo:
    """Decode the whole image, then write its thumbnail (longest side ≤ 256, never upscaled).

    Raises ImageRejected with a reason meant for the user.
    """
    content_type = sniff_content_type(head)
    if content_type is None:
        raise ValueError("validate_and_thumbnail needs a recognised image")
    if content_type == DICOM:
        display, width, height = _decode_dicom(path, max_pixels)
    else:
        decoded = _decode_raster(path, content_type, max_pixels)
        width, height = decoded.width, decoded.height
        display = _display_image(decoded)
    display.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))  # shrinks only, keeps the aspect ratio
    if content_type == JPEG:
        display.convert("RGB" if display.mode != "L" else "L").save(
            thumbnail_path, "JPEG", quality=85
        )
    else:
        display.save(thumbnail_path, "PNG", optimize=True)
    return ImageInfo(content_type=content_type, width=width, height=height)
