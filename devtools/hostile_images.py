"""Images that are small on disk and huge when decoded, made by code, for the tests and
benchmarks of the server's memory bounds."""

import io
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.encaps import encapsulate
from pydicom.uid import JPEGBaseline8Bit

from server.demo_images import secondary_capture


def write_png_bomb(path: Path, side: int) -> Path:
    """A side×side 16-bit grayscale PNG of zeros: a few hundred KB, 2·side² bytes decoded."""
    Image.fromarray(np.zeros((side, side), dtype=np.uint16)).save(path, "PNG")
    return path


def write_multiframe_jpeg_dicom(path: Path, side: int, frames: int) -> Path:
    """A DICOM of `frames` side×side 8-bit JPEG frames of black: side² bytes per frame."""
    buffer = io.BytesIO()
    Image.new("L", (side, side)).save(buffer, "JPEG", quality=50)
    dataset = secondary_capture(JPEGBaseline8Bit, side, side, bits=8)
    dataset.Modality = "OT"
    dataset.NumberOfFrames = frames
    dataset.PixelData = encapsulate([buffer.getvalue()] * frames)
    dataset["PixelData"].VR = "OB"
    dataset.save_as(path, enforce_file_format=True)
    return path
