"""Decoding x-ray images into display values, the same way on the server and in the desktop's
local preview: PNG, JPEG and DICOM, after the modality LUT, at full depth.

Memory is bounded by design, because any patient can upload a file: a file's size is read from
its header before anything is decoded (`read_header`), a DICOM file gives up only its first
frame, and every step after the decode works in place or on a reduced copy.

Pure numpy/Pillow/pydicom: no Qt and no SQLAlchemy, like the rest of `shared`.
PNG holds unsigned values only, so values are stored as `(value - offset) / scale`; a reader
recovers the modality value as `stored * scale + offset` (usually offset 0, scale 1).
"""

import io
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels.decoders.base import DecodeRunner
from pydicom.pixels.processing import apply_modality_lut, apply_voi_lut
from pydicom.pixels.utils import as_pixel_options, pixel_array

from shared.windowing import robust_range

PNG = "image/png"
JPEG = "image/jpeg"
DICOM = "application/dicom"
HEAD_BYTES = 132  # enough to recognise PNG, JPEG and DICOM ("DICM" at offset 128)
MAX_16_BIT = 65535
# The headers of GET /api/xrays/{id}/pixels: modality value = png_value * scale + offset.
PIXEL_OFFSET_HEADER = "X-Pixel-Offset"
PIXEL_SCALE_HEADER = "X-Pixel-Scale"
PIXEL_BITS_HEADER = "X-Pixel-Bits"
PIXEL_DATA_TAG = 0x7FE00010
UNDEFINED_LENGTH = 0xFFFFFFFF
_PIXEL_DATA_VRS = {b"OB", b"OW", b"OD", b"OF", b"OL", b"OV", b"UN"}
# Rows converted at a time when packing, so temporaries stay a few MB whatever the image.
PACK_ROWS = 256

# Pillow keeps every mode in 4 bytes per pixel except these.
_PILLOW_PIXEL_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
# medsys checks its own limits on the header before decoding; Pillow's global bomb check
# would refuse first, without saying which limit was exceeded.
Image.MAX_IMAGE_PIXELS = None


class ImageRejected(ValueError):
    """The file is of a known kind but cannot be used; the message says why, for the user."""


def sniff_content_type(head: bytes) -> str | None:
    """The media type from the first 132 bytes of a file, or None if it is none we accept."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if len(head) >= HEAD_BYTES and head[128:132] == b"DICM":
        return DICOM
    return None


def reason(error: BaseException, path: Path) -> str:
    """A decoder's message for the user, without the file-system path in it."""
    return str(error).replace(str(path), "the file").strip() or type(error).__name__


def unreadable(content_type: str, error: BaseException, path: Path) -> ImageRejected:
    """The refusal of a file its decoder could not read, with the decoder's reason."""
    kind = {PNG: "PNG image", JPEG: "JPEG image"}.get(content_type, "DICOM file")
    return ImageRejected(f"The file is not a readable {kind} ({reason(error, path)}).")


@dataclass(frozen=True, slots=True)
class DicomIdentity:
    """Who and what a DICOM file says it is: its UIDs and its patient fields (as written)."""

    sop_instance_uid: str | None
    study_instance_uid: str | None
    series_instance_uid: str | None
    sop_class_uid: str | None
    study_date: str | None  # DA, YYYYMMDD
    modality: str | None
    patient_id: str | None
    patient_name: str | None  # PN, "Family^Given"
    birth_date: str | None  # DA
    body_part: str | None
    description: str | None  # the series' or the study's description


def _text(dataset: Dataset, keyword: str) -> str | None:
    value = dataset.get(keyword)
    text = str(value).strip() if value is not None else ""
    return text or None


def dicom_identity(dataset: Dataset) -> DicomIdentity:
    return DicomIdentity(
        sop_instance_uid=_text(dataset, "SOPInstanceUID"),
        study_instance_uid=_text(dataset, "StudyInstanceUID"),
        series_instance_uid=_text(dataset, "SeriesInstanceUID"),
        sop_class_uid=_text(dataset, "SOPClassUID"),
        study_date=_text(dataset, "StudyDate"),
        modality=_text(dataset, "Modality"),
        patient_id=_text(dataset, "PatientID"),
        patient_name=_text(dataset, "PatientName"),
        birth_date=_text(dataset, "PatientBirthDate"),
        body_part=_text(dataset, "BodyPartExamined"),
        description=_text(dataset, "SeriesDescription") or _text(dataset, "StudyDescription"),
    )


@dataclass(frozen=True, slots=True)
class ImageHeader:
    """What a file says about itself, read without decoding a pixel."""

    content_type: str
    width: int
    height: int
    # The memory one decoded frame takes at full size.
    frame_bytes: int
    # The most memory decoding that frame takes at once (the decoder's buffers included).
    decode_bytes: int
    identity: DicomIdentity | None = None  # DICOM files only
    # The header alone shows the first frame decodable and renderable, so a decode would
    # check nothing more (see `_renders_as_declared`): its thumbnail may be made later.
    checked_without_decoding: bool = False


def read_header(path: Path, content_type: str) -> ImageHeader:
    """Size and decoded size of the image in `path`; ImageRejected if the header is unusable."""
    if content_type == DICOM:
        return _dicom_header(path)
    try:
        with Image.open(path) as image:
            width, height, mode = image.width, image.height, image.mode
    except (OSError, SyntaxError, ValueError) as error:
        raise unreadable(content_type, error, path) from None
    frame_bytes = width * height * _PILLOW_PIXEL_BYTES.get(mode, 4)
    # Pillow decodes into the frame itself; reading it into numpy copies it once.
    return ImageHeader(content_type, width, height, frame_bytes, 2 * frame_bytes)


def _declared_pixel_length(element: bytes, dataset: Dataset) -> int | None:
    """The length the Pixel Data element declares (None: encapsulated, undefined length).

    The VR form is read off the element itself: files that say explicit VR but are written
    implicit exist, and pydicom reads them."""
    endian = ">" if dataset.original_encoding[1] is False else "<"
    group, number = struct.unpack(f"{endian}HH", element[:4])
    if (group << 16 | number) != PIXEL_DATA_TAG:
        raise ImageRejected("The DICOM file holds no pixel data.")
    explicit = element[4:6] in _PIXEL_DATA_VRS  # then two reserved bytes, a 32-bit length
    (length,) = struct.unpack(f"{endian}I", element[8:12] if explicit else element[4:8])
    return None if length == UNDEFINED_LENGTH else int(length)


def _dicom_header(path: Path) -> ImageHeader:
    try:
        with path.open("rb") as handle:
            dataset = pydicom.dcmread(handle, stop_before_pixels=True)
            pixel_start = handle.tell()
            element = handle.read(12)
        file_size = path.stat().st_size
    except (InvalidDicomError, OSError, ValueError, EOFError, KeyError, struct.error) as error:
        raise unreadable(DICOM, error, path) from None
    if len(element) < 12:
        raise ImageRejected("The DICOM file holds no pixel data.")
    declared = _declared_pixel_length(element, dataset)
    try:
        width, height = int(dataset.get("Columns", 0)), int(dataset.get("Rows", 0))
        samples = int(dataset.get("SamplesPerPixel", 1) or 1)
        bits_allocated = int(dataset.get("BitsAllocated", 16) or 16)
        frames = int(dataset.get("NumberOfFrames", 1) or 1)
    except (TypeError, ValueError):
        raise ImageRejected("The DICOM header's rows, columns or bits are not readable.") from None
    if min(width, height, samples, bits_allocated, frames) <= 0:
        raise ImageRejected("The image has no pixels.")
    if declared is not None:  # native pixel data: its length is known, so check it
        if pixel_start + 8 + declared > file_size:
            raise ImageRejected(
                f"The DICOM pixel data is declared as {declared} bytes, longer than the file."
            )
        needed = (width * height * samples * bits_allocated * frames + 7) // 8
        if declared < needed:
            raise ImageRejected(
                f"The DICOM pixel data holds {declared} bytes, fewer than its {frames} frame(s) "
                f"of {width}×{height} need ({needed})."
            )
    frame_bytes = width * height * samples * ((bits_allocated + 7) // 8)
    # Measured: a compressed frame is held three times at its peak (the codec's image, its
    # array, pydicom's output); a native one twice (the bytes read, the array).
    copies = 3 if declared is None else 2
    identity = dicom_identity(dataset)
    checked = declared is not None and _renders_as_declared(dataset)
    return ImageHeader(DICOM, width, height, frame_bytes, copies * frame_bytes, identity, checked)


# What a native grey frame's stored values are held in, by (BitsAllocated, PixelRepresentation).
_NATIVE_GREY_TYPES = {
    (8, 0): np.uint8,
    (8, 1): np.int8,
    (16, 0): np.uint16,
    (16, 1): np.int16,
    (32, 0): np.uint32,
    (32, 1): np.int32,
}


# The pixel descriptions `_renders_as_declared` has judged, keyed by all it reads of them: a
# modality describes every film it sends alike, and the judgement was 0.29 of the 0.72 ms a
# header read took (a 512×512 film). At most this many are kept (per process), and only
# descriptions of at most _KEYED_BYTES (a film's takes about 100; a hostile file's could take
# megabytes, kept 256 times over).
_JUDGED_KEPT = 256
_KEYED_BYTES = 4096
_judged: dict[tuple[object, ...], bool] = {}


def _renders_as_declared(dataset: Dataset) -> bool:
    """`_judge_rendering`, once per pixel description."""
    key = _pixel_description(dataset)
    if key is None:
        return _judge_rendering(dataset)
    judged = _judged.get(key)
    if judged is None:
        if len(_judged) >= _JUDGED_KEPT:
            _judged.clear()
        judged = _judged[key] = _judge_rendering(dataset)
    return judged


def _pixel_description(dataset: Dataset) -> tuple[object, ...] | None:
    """All `_judge_rendering` reads of a dataset, as a key: its transfer syntax and encoding,
    and each element of group 0028 (the pixel description, rescale, window and LUTs) and of
    7FE0 before the pixel data, as read (its bytes, when not yet converted to a value). None
    when one of them is a parsed sequence (its items are not keyed), or when they take more
    than _KEYED_BYTES."""
    file_meta = getattr(dataset, "file_meta", None)
    syntax = file_meta.get("TransferSyntaxUID") if file_meta is not None else None
    key: list[object] = [str(syntax), dataset.original_encoding]
    size = 0
    for tag, element in dataset.items():
        if tag >> 16 not in (0x0028, 0x7FE0):
            continue
        if isinstance(element, RawDataElement):
            value: bytes | str = element.value or b""
        elif element.VR == "SQ":
            return None
        else:
            value = repr(element.value)
        size += len(value)
        if size > _KEYED_BYTES:
            return None
        key.append((tag, element.VR, value))
    return tuple(key)


def _judge_rendering(dataset: Dataset) -> bool:
    """Whether a file whose native pixel data holds the bytes its header declares (checked by
    the caller) is sure to decode and render: for such a file pydicom's decode only reads
    those bytes as the array the header describes, so a decode would check nothing more.

    Only the plain case: one grey sample of 8, 16 or 32 bits, the header's pixel description
    passing pydicom's own checks for a decode, and a rescale and window that the renderer's
    code takes (run on one pixel). Anything else (colour, palettes, LUT sequences, odd bit
    depths) is decoded on arrival, as before."""
    if int(dataset.get("SamplesPerPixel", 1) or 1) != 1:
        return False
    if str(dataset.get("PhotometricInterpretation", "")) not in ("MONOCHROME1", "MONOCHROME2"):
        return False
    if "ModalityLUTSequence" in dataset or "VOILUTSequence" in dataset:
        return False
    try:
        options = as_pixel_options(dataset)
        stored_type = _NATIVE_GREY_TYPES.get(
            (options["bits_allocated"], options["pixel_representation"])
        )
        if stored_type is None:
            return False
        runner = DecodeRunner(dataset.file_meta.TransferSyntaxUID)
        runner.set_options(**options)
        runner.set_option("pixel_keyword", "PixelData")
        runner.set_source(io.BytesIO())  # a stream: options alone are checked, not a buffer
        runner.validate()
        apply_voi_lut(modality_values(np.zeros((1, 1), stored_type), dataset), dataset)
    except Exception:  # any refusal: the decode on arrival decides, and says why
        return False
    return True


def transfer_syntax_name(dataset: Dataset) -> str:
    file_meta = getattr(dataset, "file_meta", None)
    syntax = file_meta.get("TransferSyntaxUID", "unknown") if file_meta is not None else "unknown"
    return str(getattr(syntax, "name", syntax))


def dicom_first_frame(path: Path, *, as_stored: bool = False) -> tuple[np.ndarray, Dataset]:
    """The first frame's stored values (colour as RGB) and the dataset without pixel data.

    Only that frame is read and decoded, however many the file holds. With `as_stored`, an
    uncompressed frame comes as it lies in the file: a read-only array, the unused bits above
    BitsStored not yet cleared. That is for a caller that samples the frame and corrects only
    its sample (correct_unused_bits): pydicom's copy and correction of a 2800×2800 frame
    took 3 of the 5.5 ms it took to read it."""
    options: dict[str, Any] = {"view_only": True, "correct_unused_bits": False} if as_stored else {}
    try:
        dataset = pydicom.dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, OSError, ValueError, EOFError, KeyError) as error:
        raise unreadable(DICOM, error, path) from None
    try:
        try:
            frame = pixel_array(path, index=0, **options)
        except Exception:
            # The lean reader takes the header's word for the VR form; dcmread copes with
            # files that break it (at the cost of holding the encoded pixel data in memory).
            frame = pixel_array(pydicom.dcmread(path), index=0, **options)
    except Exception as error:  # pydicom raises many kinds for undecodable pixel data
        raise ImageRejected(
            f"The DICOM pixel data cannot be decoded (transfer syntax "
            f"{transfer_syntax_name(dataset)}): {reason(error, path)}"
        ) from None
    return frame, dataset


def correct_unused_bits(values: np.ndarray, dataset: Dataset) -> np.ndarray:
    """In place, what pydicom does to a whole frame unless told not to: the bits above
    BitsStored hold no value (PS3.5 8.1.1), so they are cleared (unsigned) or take the sign
    (signed). Values already correct are left as they are."""
    unused = int(dataset.get("BitsAllocated", 0) or 0) - int(dataset.get("BitsStored", 0) or 0)
    if unused > 0 and values.dtype.kind in "iu":
        np.left_shift(values, unused, out=values)
        np.right_shift(values, unused, out=values)  # arithmetic for signed: the sign spreads
    return values


def modality_values(frame: np.ndarray, dataset: Dataset) -> np.ndarray:
    """Stored values → modality values (e.g. Hounsfield units), without copying when the
    rescale is the identity and in 4 bytes per pixel otherwise (pydicom's uses 8)."""
    if "ModalityLUTSequence" in dataset:
        return np.asarray(apply_modality_lut(frame, dataset))
    slope = float(dataset.get("RescaleSlope", 1) or 1)
    intercept = float(dataset.get("RescaleIntercept", 0) or 0)
    if slope == 1 and intercept == 0:
        return frame
    if slope.is_integer() and intercept.is_integer():
        values = frame.astype(np.int32)
        values *= int(slope)
        values += int(intercept)
        return values
    scaled = frame.astype(np.float32)
    scaled *= slope
    scaled += intercept
    return scaled


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Colour to grey as any grayscale reader would (ITU-R BT.601 weights)."""
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return (rgb[..., :3] @ weights).astype(np.uint8)


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
    frame, dataset = dicom_first_frame(path)
    if frame.ndim == 3:  # colour DICOM: luminance, as any grayscale reader would
        return luminance(frame), 8
    return modality_values(frame, dataset), int(dataset.get("BitsStored", 16))


def pack(values: np.ndarray, bits_stored: int) -> tuple[np.ndarray, PixelTransform]:
    """Fit values into uint8 (8-bit sources) or uint16, recording how to undo the fit.

    Uses no full-size temporary: the common cases (8-bit, unsigned 16-bit) are returned as they
    are, the others converted a band of rows at a time."""
    low, high = float(values.min()), float(values.max())
    robust_low, robust_high = robust_range(values)
    stats = {"low": low, "high": high, "robust_low": robust_low, "robust_high": robust_high}
    if values.dtype == np.uint8 or (bits_stored <= 8 and low >= 0 and high <= 255):
        return values.astype(np.uint8, copy=False), PixelTransform(0.0, 1.0, 8, **stats)
    offset = min(low, 0.0)
    span = high - offset
    scale = span / MAX_16_BIT if span > MAX_16_BIT else 1.0
    transform = PixelTransform(offset=offset, scale=scale, bits=16, **stats)
    if values.dtype == np.uint16 and offset == 0 and scale == 1:
        return values, transform
    integral = np.issubdtype(values.dtype, np.integer) and scale == 1.0
    packed = np.empty(values.shape, dtype=np.uint16)
    for start in range(0, values.shape[0], PACK_ROWS):
        band = (values[start : start + PACK_ROWS] - offset) / scale
        packed[start : start + PACK_ROWS] = band if integral else np.rint(band)
    return packed, transform


def display_values(path: Path, content_type: str) -> tuple[np.ndarray, int]:
    """The image's values after the modality LUT (grey), and how many bits its source holds."""
    if content_type == DICOM:
        return _dicom_values(path)
    try:
        with Image.open(path) as image:
            if image.format == "JPEG":
                # Let the decoder give luminance only: no colour buffers at full size.
                image.draft("L", image.size)
            values = _gray(image)
    except (OSError, SyntaxError, ValueError) as error:
        raise unreadable(content_type, error, path) from None
    return values, 16 if values.dtype != np.uint8 else 8
