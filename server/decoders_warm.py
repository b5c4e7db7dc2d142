"""Imported by the decoding workers' fork server before it forks them (server/decoding.py).

One small film, a PNG and a JPEG are taken through every step a worker runs on them (header,
thumbnail, display render), so that what those steps load on first use (pydicom's pixel
decoders and LUT code, Pillow's image plugins, numpy's functions they call) is loaded here,
once, and shared by every worker forked after, instead of by each worker on its first image,
to stay for its life.
"""

import gc
import logging
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.data import get_testdata_file

from server.decoding import trim_free_memory
from server.imaging import write_thumbnail
from server.pixels import render_pixels
from shared.imaging import DICOM, JPEG, PNG, read_header


def _samples(folder: Path) -> list[tuple[Path, str]]:
    # A small CT slice that pydicom ships (16 bits, a rescale): nothing generated here needs
    # code the workers would not load anyway.
    film = Path(str(get_testdata_file("CT_small.dcm")))
    samples = [(film, DICOM)]
    gray = Image.fromarray(np.arange(64 * 48, dtype=np.uint8).reshape(48, 64))
    for kind, name in ((PNG, "PNG"), (JPEG, "JPEG")):
        path = folder / f"image.{name.lower()}"
        gray.save(path, name)
        samples.append((path, kind))
    return samples


def warm(folder: Path) -> None:
    for path, content_type in _samples(folder):
        header = read_header(path, content_type)
        write_thumbnail(path, header, folder / "thumbnail")
        render_pixels(path, content_type, folder / "pixels.png")


try:
    with tempfile.TemporaryDirectory(prefix="medsys-warm-") as _folder:
        warm(Path(_folder))
except Exception:
    # Only a head start: were it to fail (no writable temporary folder), the workers load
    # what they need on their first image, as they would without it. The fork server must
    # not fail on it, or no image could be decoded.
    logging.getLogger(__name__).warning("the decoders' warm-up failed", exc_info=True)
gc.collect()
trim_free_memory()
