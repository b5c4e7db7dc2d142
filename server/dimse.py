"""The DICOM listener: C-ECHO and C-STORE from the practice's x-ray machine (pynetdicom),
beside the HTTP server in the same process.

pynetdicom runs each association in a thread of its own; a C-STORE is handed to the server's
event loop and answered only once its x-ray (or inbox entry) is committed, so a modality that
hears "success" may delete its copy. Every instance goes through the one ingest path
(server/ingest.py): the same checks, storage, thumbnail, audit and events as an upload.
"""

import asyncio
import hashlib
import ipaddress
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web
from pydicom.pixels.decoders.base import get_decoder
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, StoragePresentationContexts, evt
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from server.audit import AuditTrail
from server.ingest import Arrival, Received, store_image
from server.keys import ARRIVALS, DECODE_GATE, SETTINGS, STORAGE
from shared.enums import AuditAction
from shared.imaging import HEAD_BYTES, ImageRejected

log = logging.getLogger(__name__)

SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700
CANNOT_UNDERSTAND = 0xC000
# How long an association's thread waits for its instance to be committed.
STORE_TIMEOUT_SECONDS = 300
CANDIDATE_SYNTAXES = (
    "1.2.840.10008.1.2",  # Implicit VR Little Endian
    "1.2.840.10008.1.2.1",  # Explicit VR Little Endian
    "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian
    "1.2.840.10008.1.2.2",  # Explicit VR Big Endian
    "1.2.840.10008.1.2.4.50",  # JPEG Baseline (8 bit)
    "1.2.840.10008.1.2.4.51",  # JPEG Extended (12 bit)
    "1.2.840.10008.1.2.4.57",  # JPEG Lossless
    "1.2.840.10008.1.2.4.70",  # JPEG Lossless SV1
    "1.2.840.10008.1.2.4.80",  # JPEG-LS Lossless
    "1.2.840.10008.1.2.4.90",  # JPEG 2000 Lossless
    "1.2.840.10008.1.2.4.91",  # JPEG 2000
    "1.2.840.10008.1.2.5",  # RLE Lossless
)


def decodable_syntaxes() -> list[str]:
    """The transfer syntaxes whose pixel data this installation decodes."""
    syntaxes = []
    for uid in CANDIDATE_SYNTAXES:
        if not UID(uid).is_compressed:
            syntaxes.append(uid)
            continue
        try:
            if get_decoder(UID(uid)).is_available:
                syntaxes.append(uid)
        except NotImplementedError:
            continue
    return syntaxes


def image_storage_classes() -> list[str]:
    """The storage SOP classes of images (not reports, waveforms or presentation states)."""
    return [
        str(context.abstract_syntax)
        for context in StoragePresentationContexts
        if "Image Storage" in str(getattr(context.abstract_syntax, "name", ""))
    ]


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class DicomListener:
    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self._app = app
        self._host = host
        self._port = port
        self._loop = asyncio.get_running_loop()
        self._server: Any = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1]) if self._server is not None else self._port

    def start(self) -> None:
        settings = self._app[SETTINGS]
        ae = AE(ae_title=settings.dicom_ae_title)
        ae.require_called_aet = True
        ae.require_calling_aet = sorted(settings.dicom_peers)
        ae.maximum_pdu_size = 0  # no limit: whole films in few PDUs
        syntaxes = decodable_syntaxes()
        for sop_class in image_storage_classes():
            ae.add_supported_context(sop_class, syntaxes)
        ae.add_supported_context(Verification, [ImplicitVRLittleEndian, ExplicitVRLittleEndian])
        self._server = ae.start_server(
            (self._host, self._port),
            block=False,
            evt_handlers=[(evt.EVT_C_STORE, self._on_store)],
        )
        log.info("DICOM listener: AE title %s on port %d", settings.dicom_ae_title, self.port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    def _on_store(self, event: Any) -> int:
        """In the association's thread: write the instance to a temporary file, then hand
        it to the event loop and wait for it."""
        assoc = event.assoc
        calling = str(assoc.requestor.ae_title).strip()
        address = str(assoc.requestor.address)
        source = f"C-STORE from {calling} at {address}"
        data = event.encoded_dataset(include_meta=True)
        temp = self._app[STORAGE].new_temp_path()
        try:
            # Written and hashed here, in the thread that already holds the instance: from
            # the event loop, a trip to another thread for it took 3.6 to 5.5 ms a film with
            # four associations sending (scratch runs of dcmtk's storescu, 200 films).
            sha256 = _spool(data, temp)
        except OSError:
            temp.unlink(missing_ok=True)
            log.exception("%s: the instance could not be written", source)
            return OUT_OF_RESOURCES
        arrival = Arrival(temp, data[:HEAD_BYTES], sha256, len(data), source, None)
        work = self._store(arrival, address)
        try:
            return asyncio.run_coroutine_threadsafe(work, self._loop).result(STORE_TIMEOUT_SECONDS)
        except Exception:
            log.exception("%s failed", source)
            return OUT_OF_RESOURCES

    async def _store(self, arrival: Arrival, address: str) -> int:
        try:
            return await self._ingest(arrival, address)
        finally:
            await asyncio.to_thread(arrival.path.unlink, True)

    async def _ingest(self, arrival: Arrival, address: str) -> int:
        app = self._app
        limits = app[SETTINGS].image_limits
        try:
            # Its head is the Part 10 preamble and "DICM": examined as DICOM, placed if its
            # header shows it good, else decoded.
            stored = await store_image(
                app[STORAGE], app[DECODE_GATE], limits, arrival.path, arrival.head, arrival.sha256
            )
        except ImageRejected as error:
            log.warning("%s refused: %s", arrival.source, error)
            return OUT_OF_RESOURCES if "allowed" in str(error) else CANNOT_UNDERSTAND
        audit = AuditTrail(ip=address, action=AuditAction.create, subject=None)
        # Filed with the films arriving meanwhile on every association (and STOW-RS).
        await app[ARRIVALS].file(Received(stored, arrival, audit))
        return SUCCESS


def _spool(data: bytes, temp: Path) -> str:
    """Write a received instance to `temp`; its sha256."""
    temp.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


async def dicom_listener(app: web.Application) -> AsyncIterator[None]:
    """The app's cleanup context: the DICOM port is open before the HTTP port answers."""
    settings = app[SETTINGS]
    if settings.dicom_port is None:
        yield
        return
    listener = DicomListener(app, settings.dicom_host, settings.dicom_port)
    await asyncio.to_thread(listener.start)
    app[DICOM_LISTENER] = listener
    # Tests and scripts read this line to learn the port (with --dicom-port 0).
    print(f"medsys DICOM listener on port {listener.port}", flush=True)
    try:
        yield
    finally:
        await asyncio.to_thread(listener.stop)


DICOM_LISTENER = web.AppKey("dicom_listener", DicomListener)
