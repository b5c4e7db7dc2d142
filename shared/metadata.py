"""What a radiograph viewer needs to know about an image: size, depth, spacing, window presets
and, for DICOM, its tags. Blocking work; callers run it in a thread."""

from pathlib import Path
from typing import Any

import pydicom
from PIL import Image
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from shared.imaging import DICOM, PixelTransform
from shared.models import DicomTag, WindowPreset, XRayMetadata
from shared.windowing import window_between

PATIENT_GROUP = 0x0010  # Patient Name, ID, Birth Date, Sex, Address...
MAX_VALUE_CHARS = 200


def _values(value: object) -> list[Any]:
    if isinstance(value, (MultiValue, list, tuple)):
        return list(value)
    return [] if value is None or value == "" else [value]


def _presets_from_file(dataset: Dataset) -> list[WindowPreset]:
    centers = _values(dataset.get("WindowCenter"))
    widths = _values(dataset.get("WindowWidth"))
    names = _values(dataset.get("WindowCenterWidthExplanation"))
    presets = []
    for index, (center, width) in enumerate(zip(centers, widths, strict=False)):
        name = str(names[index]) if index < len(names) else f"File preset {index + 1}"
        if float(width) > 0:
            presets.append(WindowPreset(name=name, center=float(center), width=float(width)))
    return presets


def computed_presets(transform: PixelTransform) -> list[WindowPreset]:
    def window(name: str, low: float, high: float) -> WindowPreset:
        between = window_between(low, high)
        return WindowPreset(name=name, center=between.center, width=between.width)

    return [
        window("Full range", transform.low, transform.high),
        window("Auto (robust)", transform.robust_low, transform.robust_high),
    ]


def _text(element: DataElement) -> str:
    if element.VR == "SQ":
        return f"(sequence of {len(element.value)} item(s))"
    if element.VR in ("OB", "OW", "OF", "OD", "OL", "OV", "UN"):
        size = len(element.value) if element.value is not None else 0
        return f"({size} bytes)"
    text = str(element.value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def _tags(dataset: Dataset, show_patient: bool) -> list[DicomTag]:
    elements = list(dataset.file_meta) if hasattr(dataset, "file_meta") else []
    elements += list(dataset)
    tags = []
    for element in elements:
        if element.tag.group == PATIENT_GROUP and not show_patient:
            continue
        tags.append(
            DicomTag(
                tag=f"({element.tag.group:04X},{element.tag.element:04X})",
                keyword=element.keyword or "",
                vr=str(element.VR),
                value=_text(element),
            )
        )
    return tags


def _spacing(dataset: Dataset) -> list[float] | None:
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        values = _values(dataset.get(keyword))
        if len(values) == 2 and all(float(v) > 0 for v in values):
            return [float(values[0]), float(values[1])]
    return None


def _date(raw: object) -> str | None:
    text = str(raw or "")
    return f"{text[:4]}-{text[4:6]}-{text[6:8]}" if len(text) == 8 and text.isdigit() else None


def read_metadata(
    original: Path, content_type: str, transform: PixelTransform, show_patient: bool
) -> XRayMetadata:
    computed = computed_presets(transform)
    if content_type != DICOM:
        with Image.open(original) as image:
            width, height, mode = image.width, image.height, image.mode
        return XRayMetadata(
            width=width,
            height=height,
            bits_stored=transform.bits,
            photometric_interpretation="MONOCHROME2" if mode in ("L", "I;16", "I", "1") else "RGB",
            pixel_spacing=None,
            window_presets=computed,
            modality=None,
            body_part=None,
            study_date=None,
            tags=[],
        )
    dataset = pydicom.dcmread(original, stop_before_pixels=True)
    return XRayMetadata(
        width=int(dataset.get("Columns", 0)),
        height=int(dataset.get("Rows", 0)),
        bits_stored=int(dataset.get("BitsStored", transform.bits)),
        photometric_interpretation=str(dataset.get("PhotometricInterpretation", "MONOCHROME2")),
        pixel_spacing=_spacing(dataset),
        window_presets=_presets_from_file(dataset) + computed,
        modality=str(dataset.get("Modality")) if dataset.get("Modality") else None,
        body_part=str(dataset.get("BodyPartExamined")) if dataset.get("BodyPartExamined") else None,
        study_date=_date(dataset.get("StudyDate")),
        tags=_tags(dataset, show_patient),
    )
