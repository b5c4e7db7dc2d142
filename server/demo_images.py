"""Synthetic radiographs, made by code: demo data, tests and benchmarks need no downloads."""

from datetime import date
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid


def radiograph_pixels(width: int = 512, height: int = 640, seed: int = 1) -> np.ndarray:
    """A chest-film-like 12-bit image (values 0..4095 in uint16): body, lungs, spine, ribs."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy = width / 2, height / 2
    u, v = (x - cx) / (width / 2), (y - cy) / (height / 2)
    image = np.full((height, width), 300.0, dtype=np.float32)
    body = (u / 0.9) ** 2 + (v / 1.05) ** 2 < 1
    image[body] = 2200
    for side in (-1, 1):  # the lungs are dark: air lets the x-rays through
        lung = ((u - side * 0.38) / 0.3) ** 2 + ((v + 0.05) / 0.62) ** 2 < 1
        image[lung] = 900
    image[np.abs(u) < 0.07] = 3300  # spine
    for rib in range(9):
        arc = v + 0.55 - rib * 0.12 - 0.25 * u**2
        image[(np.abs(arc) < 0.018) & body & (np.abs(u) < 0.75)] += 900
    image += rng.normal(0, 60, image.shape).astype(np.float32)
    image += (v * 200).astype(np.float32)  # heel effect: exposure falls off along the tube axis
    return np.clip(image, 0, 4095).astype(np.uint16)


def write_png(path: Path, pixels: np.ndarray) -> None:
    """A 16-bit grayscale PNG (8-bit when the array is uint8)."""
    Image.fromarray(pixels).save(path, "PNG")


def write_jpeg(path: Path, pixels: np.ndarray) -> None:
    scaled = (pixels.astype(np.float32) * (255.0 / max(1, int(pixels.max())))).astype(np.uint8)
    Image.fromarray(scaled, mode="L").save(path, "JPEG", quality=90)


def secondary_capture(transfer_syntax: UID, rows: int, columns: int, bits: int) -> Dataset:
    """A grayscale Secondary Capture dataset with fresh UIDs, ready for its pixel data."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = transfer_syntax
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID = meta.MediaStorageSOPClassUID
    dataset.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    dataset.StudyInstanceUID = generate_uid()
    dataset.SeriesInstanceUID = generate_uid()
    dataset.Rows, dataset.Columns = rows, columns
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.BitsAllocated = 8 if bits <= 8 else 16
    dataset.BitsStored = bits
    dataset.HighBit = bits - 1
    dataset.PixelRepresentation = 0
    return dataset


def write_dicom(
    path: Path | BinaryIO,
    pixels: np.ndarray,
    *,
    pixel_spacing_mm: tuple[float, float] = (0.2, 0.2),
    patient_name: str = "Demo^Patient",
    patient_id: str = "DEMO-0001",
    body_part: str = "CHEST",
    number_of_frames: int | None = None,
) -> None:
    """An uncompressed DICOM Part 10 file: 12 bits stored, MONOCHROME2, with pixel spacing
    and a window preset, like a digital radiograph."""
    rows, columns = pixels.shape
    dataset = secondary_capture(ExplicitVRLittleEndian, rows, columns, bits=12)
    dataset.PatientName = patient_name
    dataset.PatientID = patient_id
    dataset.Modality = "DX"
    dataset.BodyPartExamined = body_part
    dataset.StudyDate = date.today().strftime("%Y%m%d")
    dataset.PixelSpacing = [f"{pixel_spacing_mm[0]:g}", f"{pixel_spacing_mm[1]:g}"]
    dataset.RescaleSlope = "1"
    dataset.RescaleIntercept = "0"
    dataset.WindowCenter = "2048"
    dataset.WindowWidth = "4096"
    dataset.WindowCenterWidthExplanation = "FULL"
    if number_of_frames is not None:  # tests: a header that promises more than the data
        dataset.NumberOfFrames = number_of_frames
    dataset.PixelData = pixels.astype("<u2").tobytes()
    dataset.save_as(path, enforce_file_format=True)
