"""Turning a received file into a stored x-ray image: validate, thumbnail, place; then file it
under its patient (an x-ray) or, for a DICOM file whose PatientID matches no patient, in the
unmatched inbox. Every way a film arrives (upload, STOW-RS, C-STORE, inbox assignment, the demo
seed) goes through here, so all get the same checks, storage, audit and events.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from pydicom.uid import SecondaryCaptureImageStorage, generate_uid
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.audit import AuditTrail
from server.db import insert_new
from server.decoding import DecodeGate
from server.errors import Conflict
from server.events.outbox import announce_all
from server.groupcommit import AUDIT_INSERT, GroupCommit, retrieve_failure
from server.imaging import ImageLimits, read_and_hold, thumbnail_type, write_thumbnail
from server.orm import StoredInstance, UnmatchedRow, UserRow, XRayRow
from server.results import arrival_event
from server.storage import ImageStore
from shared.enums import AuditAction, AuditObjectType, UserType, XRayType
from shared.imaging import (
    DicomIdentity,
    ImageHeader,
    ImageRejected,
    sniff_content_type,
)

XRAY = AuditObjectType.xray
CREATE = AuditAction.create


@dataclass(slots=True)
class StoredImage:
    header: ImageHeader
    thumbnail_type: str
    # Each stored file (original, thumbnail) beside the arrival's own copy of it, held until
    # the arrival is filed (`keep_files`) or not (`drop_files`): see ImageStore.hold.
    held: list[tuple[Path, Path]] = field(default_factory=list)

    @property
    def files(self) -> list[Path]:
        return [final for final, _ in self.held]


# What reading a file's header may take at once in a decoding worker (its parsed elements).
HEADER_READ_BYTES = 4 * 1024 * 1024


async def examine(
    store: ImageStore,
    gate: DecodeGate,
    limits: ImageLimits,
    path: Path,
    content_type: str,
    sha256: str,
) -> tuple[ImageHeader, StoredImage | None]:
    """An arriving file's header, read in a decoding worker; and in the same trip, when the
    header alone shows the file good (`read_and_hold`), the file placed in storage: then its
    StoredImage, held until it is filed. None: `store_image` decodes it, or refuses it.

    A DICOM header is parsed by pydicom's Python, which in a thread of this process held the
    GIL the event loop needs: in a STOW-RS burst (scratch, 4 x 200 films of 512x512) reading
    the headers there took the rate from 585 to 276 films/s and added 2.2 ms of CPU a film.
    The file's placing came in a trip of its own to a thread of this process, 2.3 to 3.1 ms a
    film with four C-STORE associations sending.

    Read through the gate, it is also an arrival's mark in `DecodeGate.last_busy`: a burst of
    films stored without a decode holds the background renders off as decoding ones do. The
    files arriving together are examined in batches (`DecodeGate.decode_batched`)."""
    original, held = store.original_path(sha256), store.new_temp_path(".held")
    header, placed = await gate.decode_batched(
        HEADER_READ_BYTES, read_and_hold, path, content_type, limits, original, held
    )
    if placed is None:
        return header, None
    return header, StoredImage(header, thumbnail_type(header.content_type), [(original, held)])


def image_columns(
    stored: StoredImage, sha256: str, size_bytes: int, now: datetime
) -> dict[str, object]:
    """The columns that describe a stored image as a DICOM instance: a DICOM file's own UIDs
    and fields; for a PNG or JPEG, UIDs made now (then kept) and today as its study date."""
    identity = stored.header.identity
    columns: dict[str, object] = {
        "content_type": stored.header.content_type,
        "width": stored.header.width,
        "height": stored.header.height,
        "size_bytes": size_bytes,
        "sha256": sha256,
        "thumbnail_type": stored.thumbnail_type,
        # Made only where the file has none: generate_uid draws from os.urandom, three times
        # a film, and a burst of DICOM arrivals threw nearly all of them away.
        "sop_instance_uid": (identity and identity.sop_instance_uid) or generate_uid(),
        "study_instance_uid": (identity and identity.study_instance_uid) or generate_uid(),
        "series_instance_uid": (identity and identity.series_instance_uid) or generate_uid(),
        "sop_class_uid": (identity and identity.sop_class_uid) or SecondaryCaptureImageStorage,
        "study_date": now.date(),
        "modality": "OT",
    }
    if identity is not None:
        columns.update(
            study_date=dicom_date(identity.study_date),
            modality=_cut(identity.modality, 16),
            file_patient_id=_cut(identity.patient_id, 64),
            file_patient_name=_cut(identity.patient_name, 324),
            file_birth_date=_cut(identity.birth_date, 16),
        )
    return columns


def dicom_date(value: str | None) -> date | None:
    """A DA value (YYYYMMDD) as a date; None when absent or not a real date."""
    if value is None or len(value) != 8 or not value.isdigit():
        return None
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return None


def _cut(value: str | None, length: int) -> str | None:
    return value[:length] if value else None


async def store_image(
    store: ImageStore,
    gate: DecodeGate,
    limits: ImageLimits,
    temp_path: Path,
    head: bytes,
    sha256: str,
    header: ImageHeader | None = None,
) -> StoredImage:
    """Check `temp_path`'s header against the limits, decode it (when the gate admits it) to
    validate it and write its thumbnail, and move both to their content addresses. Raises
    ImageRejected; nothing is left in storage if this raises. `header`: what `examine` gave
    for a file it did not place (else examined here, and placed if it can be).

    A file whose header alone shows it decodable (native grey DICOM: what modalities send)
    is not decoded: `examine` places it, and its thumbnail is made with its display pixels
    once arrivals pause, or when first asked for (PixelRenderer). Its decode checked nothing
    the header had not, and was most of an arrival's work: in a STOW-RS burst, 3.7 of 10 ms
    of CPU a film."""
    if header is None:
        content_type = sniff_content_type(head)
        if content_type is None:
            raise ImageRejected("Only PNG, JPEG and DICOM images are accepted.")
        header, stored = await examine(store, gate, limits, temp_path, content_type, sha256)
        if stored is not None:
            return stored
    limits.check(header)
    thumbnail_temp = store.new_temp_path()
    try:
        kind = await gate.decode(
            header.decode_bytes, write_thumbnail, temp_path, header, thumbnail_temp
        )
    except BaseException:
        await asyncio.to_thread(thumbnail_temp.unlink, True)
        raise
    # Both moves in one trip to a thread: per film, each trip is a wake-up of the event loop
    # that a burst of arrivals pays many times over.
    return await asyncio.to_thread(_hold, store, temp_path, thumbnail_temp, header, sha256, kind)


def _hold(
    store: ImageStore,
    temp_path: Path,
    thumbnail_temp: Path,
    header: ImageHeader,
    sha256: str,
    kind: str,
) -> StoredImage:
    """Place the original and its thumbnail in the store, held until filed."""
    stored = StoredImage(header=header, thumbnail_type=kind)
    placed = []
    files = [
        (temp_path, store.original_path(sha256)),
        (thumbnail_temp, store.thumbnail_path(sha256, kind)),
    ]
    try:
        for temp, final in files:
            held, was_placed = store.hold(temp, final)
            stored.held.append((final, held))
            if was_placed:
                placed.append(final)
    except BaseException:
        # What this call placed goes; an arrival of the same content waiting for its commit
        # holds a copy of its own and puts it back.
        for path in placed:
            path.unlink(missing_ok=True)
        ImageStore.let_go(stored.held, put_back=False)
        raise
    finally:
        thumbnail_temp.unlink(missing_ok=True)
    return stored


@dataclass(slots=True)
class Arrival:
    """A received file on its way in, and how it came."""

    path: Path
    head: bytes
    sha256: str
    size_bytes: int
    source: str  # "upload", "STOW-RS", "C-STORE from MODALITY at 10.0.0.7"
    uploader_id: int | None  # null: a machine sent it (C-STORE)


@dataclass(slots=True)
class FilmFields:
    """What the x-ray is called; a DICOM file that came without them is named from itself."""

    name: str
    xray_type: XRayType
    description: str | None = None


class AlreadyStored(Conflict):
    """The instance (its SOPInstanceUID) is already a live x-ray or waits in the inbox."""

    def __init__(self) -> None:
        super().__init__("This DICOM instance is already stored (same SOPInstanceUID).")


async def stored_instance_uids(db: AsyncSession, uids: list[str]) -> set[str]:
    """Those of `uids` that are a live x-ray's or wait in the inbox."""
    live = select(XRayRow.sop_instance_uid).where(
        XRayRow.sop_instance_uid.in_(uids), XRayRow.live()
    )
    waiting = select(UnmatchedRow.sop_instance_uid).where(UnmatchedRow.sop_instance_uid.in_(uids))
    return set((await db.scalars(live.union_all(waiting))).all())


def _record_key(identity: DicomIdentity | None) -> str | None:
    """How a file's PatientID is matched to a medical record number: trimmed, any case."""
    if identity is None or not identity.patient_id or not identity.patient_id.strip():
        return None
    return identity.patient_id.strip().lower()


async def patients_by_record_number(db: AsyncSession, keys: set[str]) -> dict[str, UserRow]:
    """The patients whose medical record numbers are `keys` (as `_record_key` gives them)."""
    if not keys:
        return {}
    found = await db.scalars(
        select(UserRow).where(
            func.lower(UserRow.record_number).in_(sorted(keys)),
            UserRow.usertype == UserType.patient,
        )
    )
    return {str(patient.record_number).lower(): patient for patient in found}


BODY_PARTS = {
    "CHEST": XRayType.chest,
    "SKULL": XRayType.skull,
    "HEAD": XRayType.skull,
    "SPINE": XRayType.spine,
    "CSPINE": XRayType.spine,
    "TSPINE": XRayType.spine,
    "LSPINE": XRayType.spine,
    "ABDOMEN": XRayType.abdomen,
    "PELVIS": XRayType.pelvis,
    "HIP": XRayType.pelvis,
    "JAW": XRayType.dental,
    "TOOTH": XRayType.dental,
}
LIMBS = ("HAND", "WRIST", "ARM", "ELBOW", "SHOULDER", "KNEE", "LEG", "ANKLE", "FOOT", "FINGER")


def film_fields(body_part: str | None, description: str | None, modality: str | None) -> FilmFields:
    """A name and type for a film that came over DICOM, from its own description and body part."""
    part = (body_part or "").upper().replace(" ", "")
    xray_type = BODY_PARTS.get(part) or (
        XRayType.limb if any(limb in part for limb in LIMBS) else XRayType.other
    )
    name = description or f"{modality or 'DICOM'} {(body_part or 'film').lower()}"
    return FilmFields(name=name[:200], xray_type=xray_type)


def new_xray(
    instance: StoredInstance | dict[str, object],
    patient_id: int,
    uploader_id: int | None,
    fields: FilmFields,
) -> XRayRow:
    columns = instance if isinstance(instance, dict) else instance_values(instance)
    return XRayRow(
        user_id=patient_id,
        uploaded_by_id=uploader_id,
        name_of_xray=fields.name,
        description_of_xray=fields.description,
        type_of_xray=fields.xray_type,
        addenda=[],
        result_signer=None,
        **columns,
    )


INSTANCE_COLUMNS = (
    "content_type",
    "width",
    "height",
    "size_bytes",
    "sha256",
    "thumbnail_type",
    "sop_instance_uid",
    "study_instance_uid",
    "series_instance_uid",
    "sop_class_uid",
    "study_date",
    "modality",
    "file_patient_id",
    "file_patient_name",
    "file_birth_date",
)


def instance_values(instance: StoredInstance) -> dict[str, object]:
    return {column: getattr(instance, column) for column in INSTANCE_COLUMNS}


@dataclass(slots=True)
class Filing:
    """A new x-ray, the trail its creation is recorded in, and who hears of it."""

    xray: XRayRow
    audit: AuditTrail
    by_patient: bool  # the patient sent it: they are not told of their own upload
    detail: str | None = None


async def file_xrays(db: AsyncSession, filings: list[Filing]) -> None:
    """Add new x-rays with their audit events and `xray.created` events (not committed);
    one insert of each kind for all of them. (A flush inserted them one statement each on
    SQLite: a group commit of 150 STOW-RS films took 0.7 ms a film, most of it that.)"""
    await db.flush()  # what the caller added first (inbox entries, an assigned one's removal)
    # Unique among them: receive_instances files a SOPInstanceUID once, the others file one.
    await insert_new(db, [filing.xray for filing in filings], "sop_instance_uid")
    for filing in filings:
        xray = filing.xray
        filing.audit.record(XRAY, xray.id, xray.user_id, action=CREATE, detail=filing.detail)
    await announce_all(db, [arrival_event(f.xray, by_patient=f.by_patient) for f in filings])


async def file_xray(
    db: AsyncSession,
    audit: AuditTrail,
    xray: XRayRow,
    *,
    by_patient: bool,
    detail: str | None = None,
) -> XRayRow:
    """Add one new x-ray (see file_xrays)."""
    await file_xrays(db, [Filing(xray, audit, by_patient, detail)])
    return xray


@dataclass(slots=True)
class Received:
    """A stored image on its way into the database, how it came, and the trail its filing is
    recorded in."""

    stored: StoredImage
    arrival: Arrival
    audit: AuditTrail


# What became of a received image: an x-ray, an inbox entry, or None when it was stored already.
Filed = XRayRow | UnmatchedRow | None


async def receive_instances(
    db: AsyncSession,
    received: list[Received],
    now: datetime,
    *,
    patient: UserRow | None = None,
    fields: FilmFields | None = None,
) -> list[Filed]:
    """File stored images: under `patient` when given (an upload), else each under the
    patient whose record number is its PatientID, else in the unmatched inbox. None for an
    image whose SOPInstanceUID is stored already, or comes earlier in `received`: nothing is
    added for it. Audited; not committed. A few statements for all of them, not a few each."""
    columns = [
        image_columns(item.stored, item.arrival.sha256, item.arrival.size_bytes, now)
        for item in received
    ]
    taken = await stored_instance_uids(db, [str(values["sop_instance_uid"]) for values in columns])
    owners = {}
    if patient is None:
        keys = {_record_key(item.stored.header.identity) for item in received}
        owners = await patients_by_record_number(db, {key for key in keys if key is not None})
    outcomes: list[Filed] = []
    filings: list[Filing] = []
    for item, values in zip(received, columns, strict=True):
        uid = str(values["sop_instance_uid"])
        if uid in taken:
            outcomes.append(None)
            continue
        taken.add(uid)
        identity = item.stored.header.identity
        owner = patient or owners.get(_record_key(identity) or "")
        if owner is None:
            waiting = UnmatchedRow(
                source=item.arrival.source[:200],
                body_part=_cut(identity.body_part if identity else None, 64),
                description=_cut(identity.description if identity else None, 200),
                **values,
            )
            db.add(waiting)
            item.audit.record(XRAY, None, None, action=CREATE, detail="to the unmatched inbox")
            outcomes.append(waiting)
            continue
        film = fields or film_fields(
            identity.body_part if identity else None,
            identity.description if identity else None,
            identity.modality if identity else None,
        )
        xray = new_xray(values, owner.id, item.arrival.uploader_id, film)
        xray.patient = owner
        source = item.arrival.source
        filings.append(
            Filing(
                xray,
                item.audit,
                by_patient=item.arrival.uploader_id == owner.id,
                detail=None if source == "upload" else source,
            )
        )
        outcomes.append(xray)
    await file_xrays(db, filings)  # its flush writes the inbox entries too
    return outcomes


async def receive_instance(
    db: AsyncSession,
    audit: AuditTrail,
    stored: StoredImage,
    arrival: Arrival,
    now: datetime,
    *,
    patient: UserRow | None = None,
    fields: FilmFields | None = None,
) -> XRayRow | UnmatchedRow:
    """File one stored image (see receive_instances); AlreadyStored when its SOPInstanceUID
    is stored already."""
    received = [Received(stored, arrival, audit)]
    [filed] = await receive_instances(db, received, now, patient=patient, fields=fields)
    if filed is None:
        raise AlreadyStored()
    return filed


class ArrivalFiler(GroupCommit[Received, Filed]):
    """Films that arrive over DICOM (STOW-RS parts, C-STORE instances), filed in shared
    transactions: a burst from several associations or requests at once costs a few
    statements and one commit per batch, not per film, and SQLite's one writer is taken
    once per batch instead of once per film."""

    name = "arrival group commit"
    retry_alone = True  # one film's failure must not refuse the others of its batch

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        store: ImageStore,
        clock: Callable[[], datetime],
        on_announced: Callable[[], None],
        on_filed: Callable[[XRayRow], None],
    ) -> None:
        super().__init__(sessionmaker)
        self._store = store
        self._clock = clock
        self._on_announced = on_announced
        self._on_filed = on_filed
        self._filing: set[asyncio.Task[Filed]] = set()

    async def file(self, received: Received) -> Filed:
        """File a received image with those arriving meanwhile; its outcome once committed.
        The files it placed are removed when it is refused or was stored before. That is
        decided here, in a task of its own, not by the sender: a sender that leaves (a STOW
        client that hangs up) does not take its film out of the batch, so the film may still
        commit, and its files must then stay."""
        filing = asyncio.ensure_future(self._file(received))
        self._filing.add(filing)
        filing.add_done_callback(self._filing.discard)
        filing.add_done_callback(retrieve_failure)  # even when its sender has gone
        return await asyncio.shield(filing)

    async def _file(self, received: Received) -> Filed:
        try:
            filed = await self.submit(received)
        except Exception:
            await self._drop_files(received)
            raise
        if filed is None:  # stored before: the sender may forget it, as it was stored
            await self._drop_files(received)
            return None
        if isinstance(filed, XRayRow):
            self._on_filed(filed)
        return filed

    async def _drop_files(self, received: Received) -> None:
        await drop_files(self._sessionmaker, self._store, received.arrival.sha256, received.stored)

    async def stop(self) -> None:
        await super().stop()
        await asyncio.gather(*self._filing, return_exceptions=True)

    async def write_batch(self, db: AsyncSession, items: list[Received]) -> list[Filed]:
        for item in items:
            item.audit.take()  # what an attempt that failed recorded (it was rolled back)
        outcomes = await receive_instances(db, items, self._clock())
        trails = {id(item.audit): item.audit for item in items}.values()
        # One executemany for all (added to the session, they were an INSERT each on SQLite).
        events = [event for trail in trails for event in trail.take()]
        if events:
            await AUDIT_INSERT.run(db, events)
        return outcomes

    def after_commit(self, db: AsyncSession) -> None:
        if db.info.pop("announced", None):
            self._on_announced()  # SQLite: this process is the only one to tell

    async def after_batch(self, items: list[Received], outcomes: list[Filed]) -> None:
        """The files of the batch's filed films stay: one trip to a thread for all of them,
        where each film's own trip cost more than its two file operations."""
        filed = zip(items, outcomes, strict=True)
        kept = [item.stored for item, outcome in filed if outcome is not None]
        await asyncio.to_thread(keep_files, *kept)


async def _referenced(db: AsyncSession, sha256: str) -> bool:
    """Whether a committed x-ray or inbox entry uses this content (stored once by its hash).
    Asked in a transaction of its own, so that it sees the latest commits."""
    xrays = select(XRayRow.id).where(XRayRow.sha256 == sha256)
    waiting = select(UnmatchedRow.id).where(UnmatchedRow.sha256 == sha256)
    found = await db.scalar(select(func.count()).select_from(xrays.union_all(waiting).subquery()))
    await db.rollback()  # nothing was written: this only ends the read's snapshot
    return bool(found)


async def remove_unreferenced(
    db: AsyncSession, store: ImageStore, sha256: str, files: list[Path]
) -> None:
    """Remove stored files (an arrival's that was refused, an inbox entry's that was
    discarded) unless a committed x-ray or inbox entry uses the same content.

    The files are moved aside, then the question is asked again: a film of the same content
    committed between the first answer and the move gets them back. One committed after the
    move finds them gone and puts its own held copy back (keep_files)."""
    if not files or await _referenced(db, sha256):
        return
    aside = await asyncio.to_thread(store.set_aside, files)
    still_used = await _referenced(db, sha256)
    await asyncio.to_thread(ImageStore.let_go, aside, put_back=still_used)


def keep_files(*stored: StoredImage) -> None:
    """After the arrivals' commit: their files stay. One that an arrival of the same content
    removed meanwhile (refused, its sender gone) is put back from this arrival's own copy.
    Blocking."""
    ImageStore.let_go([copy for image in stored for copy in image.held], put_back=True)


async def drop_files(
    sessionmaker: async_sessionmaker[AsyncSession],
    store: ImageStore,
    sha256: str,
    stored: StoredImage,
) -> None:
    """The arrival is not filed after all: its files go unless committed films use the same
    content (remove_unreferenced), in a session of its own: the caller's may be busy or gone."""
    try:
        async with sessionmaker() as db:
            await remove_unreferenced(db, store, sha256, stored.files)
    finally:
        await asyncio.to_thread(ImageStore.let_go, stored.held, put_back=False)
