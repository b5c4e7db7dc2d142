"""Storage against the database: every stored file has its row, every row its file.

A crash between placing an upload's files and committing its row leaves files that nothing
refers to; `serve` runs this at start (and `medsys-server fsck` on demand) to remove them. A file
younger than the grace period is kept: another process sharing the store may be about to commit
its row. Rows whose files are missing (or, with `verify`, whose bytes no longer hash to their
sha256) cannot be mended here; they are reported for the operator. A missing thumbnail is
not damage: a native DICOM film gets its thumbnail after its arrival, and any film whose
thumbnail is gone gets it again when it is first shown (PixelRenderer); it is only counted.
"""

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import one_session
from server.orm import UnmatchedRow, XRayRow
from server.settings import Settings
from server.storage import ImageStore

log = logging.getLogger(__name__)
HASH_CHUNK = 1024 * 1024


@dataclass(slots=True)
class StoredRow:
    xray_id: int
    sha256: str
    thumbnail_type: str


@dataclass(slots=True)
class FsckReport:
    removed: list[str] = field(default_factory=list)  # paths relative to the store
    young_orphans: int = 0  # files with no row, kept for the grace period
    missing_originals: list[int] = field(default_factory=list)  # x-ray ids
    thumbnails_to_make: list[int] = field(default_factory=list)  # made when first shown
    corrupt_originals: list[int] = field(default_factory=list)  # only with verify
    rows_checked: int = 0

    @property
    def consistent(self) -> bool:
        return not (self.missing_originals or self.corrupt_originals)

    def summary(self) -> str:
        return (
            f"storage check: {self.rows_checked} x-ray rows; removed {len(self.removed)} "
            f"file(s) with no row, kept {self.young_orphans} younger than the grace period; "
            f"{len(self.missing_originals)} row(s) without their image, "
            f"{len(self.corrupt_originals)} whose image does not match its sha256; "
            f"{len(self.thumbnails_to_make)} whose thumbnail is made when first shown"
        )


async def stored_rows(db: AsyncSession) -> list[StoredRow]:
    """Every x-ray row's image, deleted ones too (their files are kept for retention), and
    every instance waiting in the unmatched inbox."""
    result = await db.execute(
        select(XRayRow.id, XRayRow.sha256, XRayRow.thumbnail_type).union_all(
            select(UnmatchedRow.id, UnmatchedRow.sha256, UnmatchedRow.thumbnail_type)
        )
    )
    return [StoredRow(row_id, sha256, thumbnail_type) for row_id, sha256, thumbnail_type in result]


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _is_wanted(folder: str, path: Path, referenced: dict[str, set[str]], store: ImageStore) -> bool:
    """Whether a file in the store belongs to a row (its name is the image's sha256)."""
    if folder == "objects":
        return path.name in referenced
    sha256 = path.name.split(".", 1)[0]
    thumbnail_types = referenced.get(sha256)
    if thumbnail_types is None:
        return False
    if folder == "thumbnails":
        # Rows of the same content made by different releases may have thumbnails of both types.
        return any(path == store.thumbnail_path(sha256, kind) for kind in thumbnail_types)
    # pixels/: the rendered display pixels and their transform (no leftover partial files)
    return path.suffix in (".png", ".json") and path.stem == sha256


def check_files(
    store: ImageStore, rows: list[StoredRow], grace_seconds: float, verify: bool = False
) -> FsckReport:
    """Compare the store with `rows`, removing old unreferenced files. Blocking."""
    report = FsckReport(rows_checked=len(rows))
    referenced: dict[str, set[str]] = {}
    for row in rows:
        referenced.setdefault(row.sha256, set()).add(row.thumbnail_type)
    cutoff = time.time() - grace_seconds
    for folder in ("objects", "thumbnails", "pixels"):
        root = store.root / folder
        if not root.exists():
            continue
        for path in root.rglob("*"):
            if not path.is_file() or _is_wanted(folder, path, referenced, store):
                continue
            if path.stat().st_mtime > cutoff:
                report.young_orphans += 1
                continue
            path.unlink(missing_ok=True)
            report.removed.append(str(path.relative_to(store.root)))
    for row in rows:
        original = store.original_path(row.sha256)
        if not original.is_file():
            report.missing_originals.append(row.xray_id)
        elif verify and _sha256_of(original) != row.sha256:
            report.corrupt_originals.append(row.xray_id)
        if not store.thumbnail_path(row.sha256, row.thumbnail_type).is_file():
            report.thumbnails_to_make.append(row.xray_id)
    return report


def log_report(report: FsckReport) -> None:
    log.info(report.summary())
    for path in report.removed:
        log.info("removed %s: no x-ray refers to it", path)
    if report.missing_originals:
        log.error("x-ray(s) %s: the image is missing from storage", _ids(report.missing_originals))
    if report.corrupt_originals:
        log.error(
            "x-ray(s) %s: the stored image does not match its sha256",
            _ids(report.corrupt_originals),
        )


def _ids(ids: list[int]) -> str:
    return ", ".join(str(xray_id) for xray_id in ids[:50]) + (" …" if len(ids) > 50 else "")


async def fsck(settings: Settings, grace_seconds: float, verify: bool = False) -> FsckReport:
    """Check (and tidy) the store of `settings` against its database, and log the outcome."""
    async with one_session(settings.database_url) as db:
        rows = await stored_rows(db)
    store = ImageStore(settings.storage_dir)
    report = await asyncio.to_thread(check_files, store, rows, grace_seconds, verify)
    log_report(report)
    return report
