"""The STOW-RS body splitter, fed the way a network delivers: in pieces of any size, cut
anywhere, including inside a boundary."""

import asyncio
import hashlib
import itertools
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.demo_images import radiograph_pixels, write_dicom
from server.dicomweb.stow import received_parts
from server.errors import BadRequest
from server.keys import DECODE_GATE, STORAGE
from tests.server.conftest import Practice

BOUNDARY = secrets.token_hex(12)


def body(parts: list[bytes], *, preamble: bytes = b"", epilogue: bytes = b"") -> bytes:
    pieces = [preamble]
    for number, part in enumerate(parts):
        # One part with no headers at all: the blank line follows the delimiter at once.
        headers = b"" if number == 1 else b"Content-Type: application/dicom\r\n"
        pieces += [b"--" + BOUNDARY.encode() + b"\r\n" + headers + b"\r\n", part, b"\r\n"]
    return b"".join(pieces) + b"--" + BOUNDARY.encode() + b"--\r\n" + epilogue


async def in_pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]
        await asyncio.sleep(0)  # as a socket would: the reader runs between pieces


async def in_mixed_pieces(data: bytes, sizes: list[int]) -> AsyncIterator[bytes]:
    """Pieces of the given sizes in turn: small ones and large ones mixed, as a network
    delivers under load."""
    start = 0
    for size in itertools.cycle(sizes):
        if start >= len(data):
            return
        yield data[start : start + size]
        start += size
        await asyncio.sleep(0)


async def split(
    data: bytes, size: int, folder: Path, pieces: AsyncIterator[bytes] | None = None
) -> list[bytes]:
    found = []
    pieces = pieces or in_pieces(data, size)
    async for part in received_parts(pieces, BOUNDARY.encode(), folder):
        content = part.path.read_bytes()
        assert part.size_bytes == len(content)
        assert part.sha256 == hashlib.sha256(content).hexdigest()
        assert part.head == content[:132]
        found.append(content)
    return found


# Contents that look like the end of a part without being it, and one of several megabytes
# (held in memory only up to a point, then written as it comes).
TRICKY = [
    b"\r\n--" + BOUNDARY.encode()[:-1] + b"X and on",
    b"",
    b"--" + BOUNDARY.encode() + b" without the line break before it\r\n",
    b"\r\n\r\n" * 10,
    secrets.token_bytes(9 * 1024 * 1024 + 17),
]


@pytest.mark.parametrize("size", [1, 7, 4096, 256 * 1024, 64 * 1024 * 1024])
async def test_parts_come_out_whole_however_the_body_is_cut(tmp_path: Path, size: int) -> None:
    parts = TRICKY if size >= 4096 else TRICKY[:4]  # in tiny pieces: the small ones only
    data = body(parts, preamble=b"a preamble\r\n", epilogue=b"an epilogue")
    assert await split(data, size, tmp_path) == parts


async def test_parts_come_out_whole_from_pieces_of_mixed_sizes(tmp_path: Path) -> None:
    """Small pieces are gathered before they are held, large ones held as they came: the
    content keeps its order across the two."""
    data = body(TRICKY, preamble=b"a preamble\r\n", epilogue=b"an epilogue")
    pieces = in_mixed_pieces(data, [3, 300_000, 70, 65_536, 1, 9_000, 200_001])
    assert await split(data, 0, tmp_path, pieces) == TRICKY


@pytest.mark.parametrize(
    "data",
    [
        body([b"one part"])[:-10],  # the closing delimiter cut
        body([b"one part", b"another"])[:-30],  # inside the last part
        b"--" + BOUNDARY.encode() + b"\r\nContent-Type: application/dicom",  # inside headers
        b"--" + BOUNDARY.encode(),  # a delimiter and nothing after it
    ],
)
async def test_a_body_cut_short_is_refused(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(BadRequest, match="ends inside a part"):
        await split(data, 5, tmp_path)


async def test_no_delimiter_means_no_part(tmp_path: Path) -> None:
    assert await split(b"no multipart here", 4, tmp_path) == []
    assert await split(b"--" + BOUNDARY.encode() + b"--\r\n", 4, tmp_path) == []


async def test_endless_part_headers_are_refused(tmp_path: Path) -> None:
    data = b"--" + BOUNDARY.encode() + b"\r\nX-Filler: " + b"x" * 20000
    with pytest.raises(BadRequest, match="headers are too long"):
        await split(data, 1000, tmp_path)


async def test_parts_prepared_before_the_body_broke_leave_no_file(
    client: TestClient, practice: Practice, tmp_path: Path
) -> None:
    """The first film of a body that is then cut short was decoded and placed in storage
    while the rest arrived; the refused request takes it away again before answering."""
    doctor = await practice.doctor()
    films = []
    for seed in (81, 82):
        path = tmp_path / f"film-{seed}.dcm"
        write_dicom(path, radiograph_pixels(256, 256, seed=seed), patient_id="NOBODY-81")
        films.append(path.read_bytes())
    cut_short = body(films)[: -len(films[1]) // 2]
    # The first part and the delimiter after it.
    first_end = cut_short.index(b"--" + BOUNDARY.encode(), cut_short.index(films[0]) + 1)
    first_end += len(BOUNDARY) + 2
    # The rest of the body is sent once the first film is in storage (placed by a decoding
    # worker as its header is read: a spy on the gate's answer), so that there is something
    # to take away.
    store, gate = client.app[STORAGE], client.app[DECODE_GATE]
    placed = asyncio.Event()
    decode_batched = gate.decode_batched

    async def examined(*args: Any) -> Any:
        answer = await decode_batched(*args)
        placed.set()
        return answer

    gate.decode_batched = examined  # type: ignore[method-assign]
    first = store.original_path(hashlib.sha256(films[0]).hexdigest())

    async def sent() -> AsyncIterator[bytes]:
        yield cut_short[:first_end]
        await placed.wait()
        assert first.is_file()
        yield cut_short[first_end:]

    answer = await client.post(
        "/dicomweb/studies",
        data=sent(),
        headers={
            **doctor.headers,
            "Content-Type": f"multipart/related; type=application/dicom; boundary={BOUNDARY}",
        },
    )
    assert answer.status == 400, await answer.text()
    # Whatever preparation is still running in the server (none should be) ends first.
    still_preparing = [
        task
        for task in asyncio.all_tasks()
        if getattr(task.get_coro(), "__qualname__", "") == "_prepare_in_turn"
    ]
    await asyncio.gather(*still_preparing, return_exceptions=True)
    left = [path for path in store.root.rglob("*") if path.is_file() and path.name != ".lock"]
    assert left == []
    listed = await client.get("/api/admin/unmatched", headers=practice.admin.headers)
    assert (await listed.json())["items"] == []
