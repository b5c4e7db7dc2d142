"""The decode gate: decodes wait their turn for memory, in arrival order, and never exceed it;
they run in worker processes, and a worker that dies takes only its own image with it."""

import asyncio
import multiprocessing
import os
import pickle
import signal
import sys
import threading
from pathlib import Path

import pytest

from server.decoding import DecodeGate, IdleTrimmer
from server.demo_images import radiograph_pixels, write_dicom
from server.imaging import write_thumbnail
from server.workers import WorkerPool
from shared.imaging import DICOM, ImageRejected, read_header
from tests.server.handshake import Handshake, in_worker, pid_when_let_go

MB = 1024 * 1024


async def hold(gate: DecodeGate, cost: int, name: str, log: list[str], go: asyncio.Event) -> None:
    async with gate.admit(cost):
        log.append(f"{name} in")
        assert gate.in_use <= gate.budget_bytes
        await go.wait()
        log.append(f"{name} out")


async def test_decodes_over_the_budget_wait_instead_of_failing() -> None:
    gate = DecodeGate(budget_bytes=100 * MB, max_running=4)
    log: list[str] = []
    release_a, release_b = asyncio.Event(), asyncio.Event()
    first = asyncio.create_task(hold(gate, 60 * MB, "a", log, release_a))
    await asyncio.sleep(0)  # let it take its share
    second = asyncio.create_task(hold(gate, 60 * MB, "b", log, release_b))
    await asyncio.sleep(0)
    assert log == ["a in"]  # b does not fit beside a
    release_a.set()
    release_b.set()
    await asyncio.gather(first, second)
    assert log == ["a in", "a out", "b in", "b out"]
    assert (gate.in_use, gate.running) == (0, 0)


async def test_admission_keeps_arrival_order_so_a_big_decode_is_not_starved() -> None:
    gate = DecodeGate(budget_bytes=100 * MB, max_running=4)
    log: list[str] = []
    go = asyncio.Event()
    tasks = [asyncio.create_task(hold(gate, 60 * MB, "small-1", log, go))]
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(hold(gate, 100 * MB, "big", log, go)))
    await asyncio.sleep(0)
    # Would fit beside small-1, but arrived after the waiting big one.
    tasks.append(asyncio.create_task(hold(gate, 30 * MB, "small-2", log, go)))
    await asyncio.sleep(0)
    go.set()
    await asyncio.gather(*tasks)
    assert [entry for entry in log if entry.endswith(" in")] == [
        "small-1 in",
        "big in",
        "small-2 in",
    ]


async def test_at_most_max_running_decode_at_once() -> None:
    gate = DecodeGate(budget_bytes=100 * MB, max_running=2)
    log: list[str] = []
    go = asyncio.Event()
    tasks = [asyncio.create_task(hold(gate, MB, f"d{n}", log, go)) for n in range(3)]
    await asyncio.sleep(0)
    assert gate.running == 2
    go.set()
    await asyncio.gather(*tasks)
    assert gate.running == 0


async def test_a_cancelled_waiter_gives_its_place_to_the_next() -> None:
    gate = DecodeGate(budget_bytes=100 * MB, max_running=4)
    log: list[str] = []
    release_a, never, release_c = asyncio.Event(), asyncio.Event(), asyncio.Event()
    first = asyncio.create_task(hold(gate, 100 * MB, "a", log, release_a))
    await asyncio.sleep(0)
    cancelled = asyncio.create_task(hold(gate, 100 * MB, "b", log, never))
    third = asyncio.create_task(hold(gate, 10 * MB, "c", log, release_c))
    await asyncio.sleep(0)
    cancelled.cancel()
    release_a.set()
    release_c.set()
    await asyncio.gather(first, third)
    assert "b in" not in log
    assert (gate.in_use, gate.running) == (0, 0)


async def test_a_cost_over_the_budget_runs_alone_rather_than_never() -> None:
    gate = DecodeGate(budget_bytes=10 * MB, max_running=4)
    async with gate.admit(50 * MB):
        assert gate.in_use == 10 * MB


def _worker_pid() -> int:
    return os.getpid()


def _die() -> int:
    os.kill(os.getpid(), signal.SIGKILL)  # what a decoder crashing on a hostile file does
    raise AssertionError("unreachable")


async def test_decodes_run_in_worker_processes_and_a_dying_one_takes_only_its_image(
    tmp_path: Path,
) -> None:
    gate = DecodeGate(budget_bytes=100 * MB, max_running=2)
    try:
        await gate.start()
        workers = {await gate.decode(MB, _worker_pid) for _ in range(4)}
        assert len(workers) == 2
        assert os.getpid() not in workers
        # The film that kills its decoder fails; the two decoded beside it do not.
        dying, *others = await asyncio.gather(
            gate.decode(MB, _die),
            gate.decode(MB, _worker_pid),
            gate.decode(MB, _worker_pid),
            return_exceptions=True,
        )
        assert isinstance(dying, ImageRejected)
        assert "cannot be decoded" in str(dying)
        assert all(isinstance(pid, int) and pid != os.getpid() for pid in others), others
        # Two decodes at once (each waits for the other to start): the worker that lived on,
        # and a new one in place of the dead.
        first, second = Handshake(tmp_path, "first"), Handshake(tmp_path, "second")
        try:
            both = asyncio.gather(
                gate.decode(MB, pid_when_let_go, first.started, first.go),
                gate.decode(MB, pid_when_let_go, second.started, second.go),
            )
            for handshake in (first, second):
                await handshake.wait_started()
            for handshake in (first, second):
                await handshake.let_go()
        finally:
            first.release()
            second.release()
        after = set(await both)
        assert len(after) == 2
        assert len(after & workers) == 1, (workers, after)
        assert (gate.in_use, gate.running) == (0, 0)
    finally:
        await asyncio.to_thread(gate.close)


async def test_a_worker_whose_caller_gave_up_takes_the_next_decode_once_it_has_answered(
    tmp_path: Path,
) -> None:
    """A decode whose caller gives up (a client that went away) runs to its end in its
    worker; the next decode waits for that worker and gets its own answer, not the one the
    worker was about to give."""
    gate = DecodeGate(budget_bytes=100 * MB, max_running=1)
    handshake = Handshake(tmp_path)
    try:
        abandoned = asyncio.create_task(gate.decode(MB, in_worker, handshake.started, handshake.go))
        await handshake.wait_started()
        abandoned.cancel()
        with pytest.raises(asyncio.CancelledError):
            await abandoned
        worker = asyncio.create_task(gate.decode(MB, _worker_pid))
        await handshake.let_go()
        pid = await asyncio.wait_for(worker, 30)
        assert isinstance(pid, int)
        assert pid != os.getpid()
        assert await gate.decode(MB, _worker_pid) == pid  # the same worker, still there
    finally:
        handshake.release()
        await asyncio.to_thread(gate.close)


def _loaded(names: tuple[str, ...]) -> list[str]:
    return [name for name in names if name in sys.modules]


async def test_workers_start_with_their_decoders_loaded() -> None:
    """What a worker's first image would load (Pillow's JPEG and PNG plugins, the masked
    arrays pydicom's windowing uses) is loaded once, in the fork server, before the workers
    are forked from it: shared by all of them instead of loaded by each."""
    wanted = ("PIL.JpegImagePlugin", "PIL.PngImagePlugin", "numpy.ma")
    gate = DecodeGate(budget_bytes=100 * MB, max_running=1)
    try:
        await gate.start()
        assert await gate.decode(MB, _loaded, wanted) == list(wanted)  # its first task
    finally:
        await asyncio.to_thread(gate.close)


def test_a_worker_gives_its_heap_back_once_when_its_decodes_pause() -> None:
    trims: list[int] = []
    trimmed = threading.Event()

    def trim() -> None:
        trims.append(len(trims))
        trimmed.set()

    trimmer = IdleTrimmer(trim, idle_seconds=0.05)
    trimmer.start()
    for _ in range(3):  # a burst: three decodes end
        trimmer.finished()
    assert trimmed.wait(10)
    assert trims == [0]  # one trim for the burst, not one per decode


async def test_a_thumbnail_is_written_by_a_worker_and_its_errors_reach_the_caller(
    tmp_path: Path,
) -> None:
    gate = DecodeGate(budget_bytes=100 * MB, max_running=1)
    good, bad = tmp_path / "film.dcm", tmp_path / "truncated.dcm"
    write_dicom(good, radiograph_pixels(64, 64, seed=1))
    bad.write_bytes(good.read_bytes()[:-2000])  # pixel data cut short
    try:
        header = read_header(good, DICOM)
        kind = await gate.decode(MB, write_thumbnail, good, header, tmp_path / "thumb")
        assert kind == "image/jpeg"
        assert (tmp_path / "thumb").read_bytes()[:3] == b"\xff\xd8\xff"
        with pytest.raises(ImageRejected):
            await gate.decode(MB, write_thumbnail, bad, header, tmp_path / "bad-thumb")
    finally:
        await asyncio.to_thread(gate.close)


def _fails() -> None:
    raise ValueError("a decoder's own error")


async def test_errors_in_a_call_reach_the_caller_and_the_worker_takes_the_next() -> None:
    gate = DecodeGate(budget_bytes=100 * MB, max_running=1)
    try:
        pid = await gate.decode(MB, _worker_pid)
        with pytest.raises(ValueError, match="a decoder's own error") as raised:
            await gate.decode(MB, _fails)
        assert any("_fails" in note for note in raised.value.__notes__)  # where, in the worker
        with pytest.raises((AttributeError, pickle.PicklingError)):
            await gate.decode(MB, lambda: os.getpid())  # a call that cannot be sent
        assert await gate.decode(MB, _worker_pid) == pid
    finally:
        await asyncio.to_thread(gate.close)


async def test_a_call_to_a_closed_pool_fails_instead_of_waiting_forever() -> None:
    pool = WorkerPool(1, multiprocessing.get_context(), _worker_pid)  # never starts one
    await asyncio.to_thread(pool.close)
    with pytest.raises(RuntimeError, match="closed"):
        await asyncio.wait_for(pool.run(_worker_pid), 30)


def _pid_after(handshake: tuple[Path, Path] | None) -> int:
    """The worker's pid, once let go (at once without a handshake)."""
    if handshake is not None:
        in_worker(*handshake)
    return os.getpid()


async def test_calls_made_while_the_workers_are_busy_go_to_one_worker_together(
    tmp_path: Path,
) -> None:
    """Batched calls queued while every worker is busy are sent to the first worker free as
    one call: the two calls made after the first one answer from its worker, after it, though
    the other worker is free meanwhile."""
    gate = DecodeGate(budget_bytes=100 * MB, max_running=2)
    holders = [Handshake(tmp_path, f"holder-{index}") for index in range(2)]
    first = Handshake(tmp_path, "first")
    try:
        await gate.start()
        held = [asyncio.create_task(gate.decode(MB, in_worker, h.started, h.go)) for h in holders]
        for holder in holders:
            await holder.wait_started()
        batched = [
            asyncio.create_task(gate.decode_batched(MB, _pid_after, handshake))
            for handshake in ((first.started, first.go), None, None)
        ]
        for holder in holders:
            await holder.let_go()
        assert await asyncio.gather(*held) == ["let go", "let go"]
        await first.wait_started()
        assert not any(call.done() for call in batched)  # they wait for the first, in its call
        await first.let_go()
        pids = await asyncio.gather(*batched)
        assert len(set(pids)) == 1, pids
        assert gate.last_busy() <= asyncio.get_running_loop().time()
        assert (gate.in_use, gate.running) == (0, 0)
    finally:
        for handshake in (*holders, first):
            handshake.release()
        await asyncio.to_thread(gate.close)


async def test_a_batched_call_that_fails_fails_alone(tmp_path: Path) -> None:
    """The headers of films arriving together are read in one batch: an unreadable one is
    refused, and the others are read."""
    gate = DecodeGate(budget_bytes=100 * MB, max_running=1)
    films = [tmp_path / f"film-{index}.dcm" for index in range(3)]
    for index, film in enumerate(films):
        write_dicom(film, radiograph_pixels(32 + index, 32, seed=index))
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"\0" * 128 + b"DICM" + b"not a dataset")
    try:
        headers = await asyncio.gather(
            *(gate.decode_batched(MB, read_header, path, DICOM) for path in [*films, junk]),
            return_exceptions=True,
        )
        *read, refused = headers
        assert [header.width for header in read] == [32, 33, 34]  # type: ignore[union-attr]
        assert isinstance(refused, ImageRejected), refused
        assert any("read_header" in note for note in refused.__notes__)
    finally:
        await asyncio.to_thread(gate.close)


def _pid_or_die(die: bool) -> int:
    return _die() if die else os.getpid()


async def test_a_batched_call_that_kills_its_worker_takes_only_itself(tmp_path: Path) -> None:
    gate = DecodeGate(budget_bytes=100 * MB, max_running=1)
    handshake = Handshake(tmp_path)
    try:
        # The worker is held, so that the calls below wait, and are sent, together.
        holder = asyncio.create_task(gate.decode(MB, in_worker, handshake.started, handshake.go))
        await handshake.wait_started()
        calls = [
            asyncio.create_task(gate.decode_batched(MB, _pid_or_die, die))
            for die in (False, True, False)
        ]
        await handshake.let_go()
        await holder
        before, dying, after = await asyncio.gather(*calls, return_exceptions=True)
        assert isinstance(dying, ImageRejected), dying
        assert "cannot be decoded" in str(dying)
        assert isinstance(before, int)
        assert isinstance(after, int)
        assert os.getpid() not in (before, after)
        assert (gate.in_use, gate.running) == (0, 0)
    finally:
        handshake.release()
        await asyncio.to_thread(gate.close)


async def test_a_batched_caller_that_gives_up_leaves_the_others_their_answers(
    tmp_path: Path,
) -> None:
    gate = DecodeGate(budget_bytes=100 * MB, max_running=1)
    handshake = Handshake(tmp_path)
    try:
        holder = asyncio.create_task(gate.decode(MB, in_worker, handshake.started, handshake.go))
        await handshake.wait_started()
        gives_up, waits = (
            asyncio.create_task(gate.decode_batched(MB, _pid_after, None)) for _ in range(2)
        )
        await asyncio.sleep(0)  # both are queued
        gives_up.cancel()
        await handshake.let_go()
        await holder
        assert isinstance(await waits, int)
        assert gives_up.cancelled()
    finally:
        handshake.release()
        await asyncio.to_thread(gate.close)
