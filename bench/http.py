"""Speed at the limit, side by side with what a practice might run instead (issue 13).

- medsys's audited single read (`GET /api/questions/{id}`, random ids) and the doctor's pending
  page of 50 against a naive aiohttp + SQLAlchemy ORM server with no auth and no audit
  (`bench/reference/naive.py`), on SQLite databases of each `--sizes` questions (and as many
  audit events), built by bulk insert;
- a 15 MB 16-bit DICOM upload, the original's fetch and the first `/pixels` against Orthanc's
  `POST /instances`, `/file` and `/preview`, when Orthanc is installed (then, as root, the run
  happens in a private network namespace, since Orthanc listens on every interface).

Load comes from wrk (`-t2 -cC -dDs`, a Lua script for random ids) when it is installed, from a
Python client otherwise (which takes a share of the same two cores: compare ratios, not rates).
Prints one table: measurement | medsys | reference | ratio.

    .venv/bin/python -m bench.http [--sizes 10000,1000000] [--seconds 15] [--uploads 20]
"""

import argparse
import asyncio
import io
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import requests
from sqlalchemy import insert, select

from devtools.live_server import (
    LiveServer,
    cpu_seconds,
    create_user,
    log_in,
    resident_mb,
    run_cli,
    server_environment,
    tree_cpu_seconds,
)
from devtools.orthanc import URL as ORTHANC_URL
from devtools.orthanc import in_private_network, start_orthanc
from devtools.orthanc import installed as orthanc_installed
from devtools.postgres import create_database, drop_database
from server.db import open_engine
from server.demo_images import radiograph_pixels, write_dicom
from server.orm import AuditEventRow, QuestionRow, UserRow

PASSWORD = "bench password 1"
DOCTOR = "doctor@bench.example"
PATIENTS = 1000  # so that a page of 50 questions names about 50 patients (50 audit events)
NAIVE_PORT = 18081
INSERT_CHUNK = 20_000


@dataclass(slots=True)
class Load:
    rate: float  # requests per second
    p50_ms: float
    p99_ms: float


@dataclass(slots=True)
class Row:
    measurement: str
    medsys: str
    reference: str
    ratio: str


# --- the databases ------------------------------------------------------------------------


def build_database(
    folder: Path, questions: int, database_url: str | None = None
) -> tuple[dict[str, str], int]:
    """A migrated database (SQLite in `folder` unless a URL is given) with a doctor, PATIENTS
    patients, `questions` pending questions and as many audit events; returns the server
    environment and the doctor's id."""
    url = database_url or f"sqlite+aiosqlite:///{folder / 'medsys.db'}"
    environment = server_environment(folder, url)
    if run_cli(environment, "migrate").returncode != 0:
        raise RuntimeError("migrate failed")
    create_user(environment, "doctor", DOCTOR, "Bench Doctor", PASSWORD)
    create_user(environment, "patient", "patient-0@bench.example", "Patient 0", PASSWORD)
    doctor_id = asyncio.run(_fill(environment["MEDSYS_DATABASE_URL"], questions))
    return environment, doctor_id


async def _fill(database_url: str, questions: int) -> int:
    now = datetime.now(UTC)
    async with open_engine(database_url) as engine, engine.begin() as connection:
        users = {row.email: row for row in (await connection.execute(select(UserRow))).all()}
        doctor, first = users[DOCTOR], users["patient-0@bench.example"]
        await connection.execute(
            insert(UserRow),
            [
                {
                    "full_name": f"Patient {number}",
                    "email": f"patient-{number}@bench.example",
                    "email_key": f"patient-{number}@bench.example",
                    "usertype": first.usertype,
                    "is_active": True,
                    "password_hash": first.password_hash,
                    "record_number": f"B{number:07d}",
                    "created_at": now,
                    "updated_at": now,
                }
                for number in range(1, PATIENTS)
            ],
        )
        patient_ids = [
            patient_id
            for (patient_id,) in await connection.execute(
                select(UserRow.id).where(UserRow.usertype == first.usertype)
            )
        ]
        for start in range(0, questions, INSERT_CHUNK):
            count = min(INSERT_CHUNK, questions - start)
            await connection.execute(
                insert(QuestionRow),
                [
                    {
                        "patient_id": patient_ids[(start + index) % len(patient_ids)],
                        "doctor_id": doctor.id if (start + index) % 2 else None,
                        "question_text": f"Question {start + index}: is this shadow normal?",
                        "status": "pending",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for index in range(count)
                ],
            )
            await connection.execute(
                insert(AuditEventRow),
                [
                    {
                        "at": now,
                        "actor_id": doctor.id,
                        "action": "read",
                        "object_type": "question",
                        "object_id": start + index + 1,
                        "patient_id": patient_ids[(start + index) % len(patient_ids)],
                        "outcome": "ok",
                        "ip": "127.0.0.1",
                    }
                    for index in range(count)
                ],
            )
        return int(doctor.id)


# --- load ---------------------------------------------------------------------------------


def _milliseconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


class ClientCpu:
    """The CPU time the load clients (child processes) used, to say what share of the two
    cores the server did not have."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def measure(self) -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime


CLIENT_CPU = ClientCpu()


def wrk_load(
    base: str, prefix: str, suffix: str, ids: int, connections: int, seconds: int, token: str
) -> Load:
    """wrk at `base` + `prefix` + a random id in 1..ids + `suffix` (no id when ids is 0)."""
    script = (
        "math.randomseed(7)\n"
        "request = function()\n"
        f'  local path = "{prefix}"'
        + (f" .. math.random(1, {ids})" if ids else "")
        + f' .. "{suffix}"\n'
        "  return wrk.format(nil, path)\n"
        "end\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(script)
        lua.flush()
        command = [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "--timeout",
            "60s",
        ]
        command += ["-s", lua.name]
        if token:
            command += ["-H", f"Authorization: Bearer {token}"]
        before = CLIENT_CPU.measure()
        output = subprocess.run(
            [*command, base], capture_output=True, text=True, check=True, timeout=seconds + 60
        ).stdout
        CLIENT_CPU.seconds = CLIENT_CPU.measure() - before
    if "Non-2xx" in output or "Socket errors" in output:
        raise RuntimeError(f"wrk saw errors:\n{output}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", output, re.MULTILINE))
    if len(percentiles) != 2:
        raise RuntimeError(f"wrk's output has no latency distribution:\n{output}")
    return Load(rate, _milliseconds(percentiles["50"]), _milliseconds(percentiles["99"]))


async def _python_load(
    base: str, prefix: str, suffix: str, ids: int, connections: int, seconds: int, token: str
) -> Load:
    import random

    chooser = random.Random(7)
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    deadline = time.perf_counter() + seconds

    async def client(http: aiohttp.ClientSession) -> None:
        while time.perf_counter() < deadline:
            path = f"{prefix}{chooser.randint(1, ids) if ids else ''}{suffix}"
            started = time.perf_counter()
            async with http.get(base + path, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"{path}: {response.status}")
            latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return Load(
        len(latencies) / elapsed,
        latencies[len(latencies) // 2] * 1000,
        latencies[int(len(latencies) * 0.99)] * 1000,
    )


def load(
    base: str, prefix: str, suffix: str, ids: int, connections: int, seconds: int, token: str
) -> Load:
    if shutil.which("wrk"):
        return wrk_load(base, prefix, suffix, ids, connections, seconds, token)
    return asyncio.run(_python_load(base, prefix, suffix, ids, connections, seconds, token))


@dataclass(slots=True)
class Served:
    url: str
    pid: int


@contextmanager
def naive_server(database_url: str) -> Iterator[Served]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.reference.naive", database_url, str(NAIVE_PORT)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # blocks until it listens (or exits)
        if not line.startswith("naive is serving on "):
            raise RuntimeError("the naive server did not start")
        yield Served(line.removeprefix("naive is serving on ").strip(), process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


def login(url: str, email: str) -> dict[str, object]:
    return log_in(url, email, PASSWORD)


def ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}×" if theirs else "–"


def measured(
    server: Served, path: str, ids: int, connections: int, seconds: int, token: str = ""
) -> tuple[Load, float]:
    """`load` on `path` (+ a random id in 1..ids), and the server's CPU milliseconds per
    request (less noisy than the rate on a shared machine)."""
    before = cpu_seconds(server.pid)
    result = load(server.url, path, "", ids, connections, seconds, token)
    used = cpu_seconds(server.pid) - before
    return result, used * 1000 / max(1.0, result.rate * seconds)


def reads(size: int, seconds: int) -> tuple[list[Row], Load]:
    """The single read and the pending page, medsys against naive, on `size` questions."""
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        environment, doctor_id = build_database(Path(scratch), size)
        medsys = LiveServer(environment)
        url = medsys.start()
        try:
            token = str(login(url, DOCTOR)["access_token"])
            assert medsys.process is not None
            ours_served = Served(url, medsys.process.pid)
            with naive_server(environment["MEDSYS_DATABASE_URL"]) as naive:
                label = f"{size:,} questions"
                for connections in (64, 8):
                    ours, our_cpu = measured(
                        ours_served, "/api/questions/", size, connections, seconds, token
                    )
                    theirs, their_cpu = measured(naive, "/questions/", size, connections, seconds)
                    if connections == 64:
                        rows.append(
                            Row(
                                f"single read, server CPU ms per request, c64, {label}",
                                f"{our_cpu:.2f}",
                                f"{their_cpu:.2f}",
                                ratio(our_cpu, their_cpu),
                            )
                        )
                        single = ours
                        rows.append(
                            Row(
                                f"single read, req/s, c64, {label}",
                                f"{ours.rate:.0f}",
                                f"{theirs.rate:.0f}",
                                ratio(ours.rate, theirs.rate),
                            )
                        )
                        rows.append(
                            Row(
                                f"single read p99 ms, c64, {label}",
                                f"{ours.p99_ms:.0f}",
                                f"{theirs.p99_ms:.0f}",
                                ratio(ours.p99_ms, theirs.p99_ms),
                            )
                        )
                    rows.append(
                        Row(
                            f"single read p50 ms, c{connections}, {label}",
                            f"{ours.p50_ms:.1f}",
                            f"{theirs.p50_ms:.1f}",
                            ratio(ours.p50_ms, theirs.p50_ms),
                        )
                    )
                ours, our_cpu = measured(
                    ours_served, "/api/questions/pending?limit=50", 0, 64, seconds, token
                )
                theirs, their_cpu = measured(
                    naive, f"/questions?doctor_id={doctor_id}", 0, 64, seconds
                )
                rows.append(
                    Row(
                        f"pending page of 50, server CPU ms per page, c64, {label}",
                        f"{our_cpu:.2f}",
                        f"{their_cpu:.2f}",
                        ratio(our_cpu, their_cpu),
                    )
                )
                rows.append(
                    Row(
                        f"pending page of 50, req/s, c64, {label}",
                        f"{ours.rate:.0f}",
                        f"{theirs.rate:.0f}",
                        ratio(ours.rate, theirs.rate),
                    )
                )
        finally:
            medsys.stop()
    return rows, single


# --- images against Orthanc ----------------------------------------------------------------


def film(number: int) -> bytes:
    """A distinct 2800×2800 16-bit film (15.7 MB): its own UIDs."""
    buffer = io.BytesIO()
    write_dicom(buffer, FILM_PIXELS, patient_id=f"BENCH-{number}", patient_name="Bench^Film")
    return buffer.getvalue()


FILM_PIXELS = radiograph_pixels(2800, 2800, seed=11)


def _median_ms(timings: list[float]) -> float:
    return statistics.median(timings) * 1000


def _timed(call: Callable[..., None], *arguments: object) -> float:
    started = time.perf_counter()
    call(*arguments)
    return time.perf_counter() - started


def postgres_cpu_seconds() -> float:
    """The CPU time of every PostgreSQL process on this machine (its backends do the reads)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if stat.read_text().split(" ", 2)[1].startswith("(postgres"):
                total += cpu_seconds(int(stat.parent.name))
        except FileNotFoundError:
            continue
    return total


def wait_until_idle(pid: int, limit_seconds: float = 120) -> None:
    """Until the process and those it started (its decoding workers, where the renders run)
    used under 5 % of a core over a second: its background work is done."""
    deadline = time.monotonic() + limit_seconds
    while time.monotonic() < deadline:
        before = tree_cpu_seconds(pid)
        time.sleep(1)  # a measuring interval: the server gives no signal for "idle"
        if tree_cpu_seconds(pid) - before < 0.05:
            return
    raise RuntimeError("the server stayed busy")


def images(uploads: int) -> list[Row]:
    rows = []
    films = [film(number) for number in range(uploads)]
    settled_films = [film(uploads + number) for number in range(5)]
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        environment, _ = build_database(folder, 0)
        medsys = LiveServer(environment)
        url = medsys.start()
        orthanc = start_orthanc(folder)
        try:
            headers = {"Authorization": f"Bearer {login(url, DOCTOR)['access_token']}"}
            patient = login(url, "patient-0@bench.example")["user"]
            patient_id = str(patient["id"])  # type: ignore[index]
            assert medsys.process is not None
            # Where it started: once its startup (the decoding workers, their warm-up) is done.
            wait_until_idle(medsys.process.pid)
            before = resident_mb(medsys.process.pid)
            ids: list[int] = []

            # Both bodies are made before the clock starts: the multipart encoding of 15 MB is
            # the client's work (10-20 ms of it), and Orthanc's body is the file as it is.
            def medsys_request(data: bytes) -> requests.PreparedRequest:
                return requests.Request(
                    "POST",
                    f"{url}/api/xrays",
                    headers=headers,
                    files={"image": ("film.dcm", data, "application/dicom")},
                    data={"name_of_xray": "Bench", "type_of_xray": "chest", "user_id": patient_id},
                ).prepare()

            http = requests.Session()

            def upload(prepared: requests.PreparedRequest) -> None:
                answer = http.send(prepared, timeout=120)
                assert answer.status_code == 201, answer.text[:300]
                ids.append(answer.json()["id"])

            orthanc_ids: list[str] = []

            def upload_orthanc(prepared: requests.PreparedRequest) -> None:
                answer = http.send(prepared, timeout=120)
                answer.raise_for_status()
                orthanc_ids.append(answer.json()["ID"])

            ours = [_timed(upload, medsys_request(data)) for data in films]
            after = resident_mb(medsys.process.pid)
            theirs = [
                _timed(
                    upload_orthanc,
                    requests.Request("POST", f"{ORTHANC_URL}/instances", data=data).prepare(),
                )
                for data in films
            ]
            ours_ms, theirs_ms = _median_ms(ours), _median_ms(theirs)
            rows.append(
                Row(
                    "15 MB DICOM upload, median ms",
                    f"{ours_ms:.0f}",
                    f"{theirs_ms:.0f}",
                    ratio(ours_ms, theirs_ms),
                )
            )
            rows.append(
                Row(
                    f"server memory (with its decoding workers) right after {uploads} uploads, MB",
                    f"+{after - before:.0f}",
                    "",
                    "",
                )
            )

            def fetch(address: str, extra: dict[str, str]) -> None:
                answer = requests.get(address, headers=extra, timeout=120)
                answer.raise_for_status()

            for label, ours_path, theirs_path in (
                ("first /pixels (Orthanc: /preview), median ms", "pixels", "preview"),
                ("original fetch (Orthanc: /file), median ms", "image", "file"),
            ):
                ours = [_timed(fetch, f"{url}/api/xrays/{i}/{ours_path}", headers) for i in ids]
                theirs = [
                    _timed(fetch, f"{ORTHANC_URL}/instances/{i}/{theirs_path}", {})
                    for i in orthanc_ids
                ]
                ours_ms, theirs_ms = _median_ms(ours), _median_ms(theirs)
                rows.append(
                    Row(label, f"{ours_ms:.1f}", f"{theirs_ms:.1f}", ratio(ours_ms, theirs_ms))
                )
            # Above, the viewer asked the moment the burst ended, most renders still queued.
            # A doctor opens a film later: films whose render at arrival has had its time.
            ids.clear()
            for data in settled_films:
                upload(medsys_request(data))
            wait_until_idle(medsys.process.pid)
            ours = [_timed(fetch, f"{url}/api/xrays/{i}/pixels", headers) for i in ids]
            rows.append(
                Row(
                    "first /pixels once the arrival settled, median ms",
                    f"{_median_ms(ours):.1f}",
                    "",
                    "",
                )
            )
            # What stays once the server is idle: the renders done, the workers' heaps given
            # back (IdleTrimmer, a second after their last decode). Memory that does not come
            # back is what would grow over a day of films.
            wait_until_idle(medsys.process.pid)
            # Once more: the trim comes a second after the last decode, so it may fall at the
            # very end of the quiet second the first wait saw.
            wait_until_idle(medsys.process.pid)
            settled = resident_mb(medsys.process.pid)
            rows.append(
                Row(
                    f"server memory once idle after {uploads + len(settled_films)} uploads "
                    "and their renders, MB",
                    f"+{settled - before:.0f}",
                    "",
                    "",
                )
            )
        finally:
            orthanc.terminate()
            orthanc.wait(timeout=30)
            medsys.stop()
    return rows


def postgres_workers(admin_url: str, size: int, seconds: int) -> list[Row]:
    """The single read on PostgreSQL, `serve --workers 2` against `--workers 1`."""
    name = f"medsys_bench_{os.getpid()}"
    database_url = asyncio.run(create_database(admin_url, name))
    rows = []
    try:
        with tempfile.TemporaryDirectory() as scratch:
            environment, _ = build_database(Path(scratch), size, database_url)
            rates, shares = {}, {}
            for workers in (1, 2):
                medsys = LiveServer(environment, ("--workers", str(workers)))
                url = medsys.start()
                try:
                    assert medsys.process is not None
                    token = str(login(url, DOCTOR)["access_token"])
                    server_before = tree_cpu_seconds(medsys.process.pid)
                    postgres_before = postgres_cpu_seconds()
                    rates[workers] = load(url, "/api/questions/", "", size, 64, seconds, token)
                    # Where the two cores went: the load's ceiling is what medsys was left.
                    server_share = (tree_cpu_seconds(medsys.process.pid) - server_before) / seconds
                    postgres_share = (postgres_cpu_seconds() - postgres_before) / seconds
                    client_share = CLIENT_CPU.seconds / seconds
                    shares[workers] = server_share
                finally:
                    medsys.stop()
                rows.append(
                    Row(
                        f"PostgreSQL single read req/s, --workers {workers} (of a core: "
                        f"medsys {server_share:.0%}, PostgreSQL {postgres_share:.0%}, "
                        f"wrk {client_share:.0%})",
                        f"{rates[workers].rate:.0f}",
                        "",
                        "",
                    )
                )
            rows.append(
                Row(
                    "PostgreSQL, two processes against one",
                    f"{rates[2].rate / rates[1].rate:.2f}×",
                    "",
                    "",
                )
            )
            # What two processes would give with a core each: requests per CPU-second of
            # medsys, two against one. 1.0× means a second process does its requests at the
            # same cost, so the rate grows with the cores it is given (two here, shared with
            # PostgreSQL and wrk).
            per_cpu = {w: rates[w].rate / shares[w] for w in rates if shares[w] > 0}
            if len(per_cpu) == 2:
                rows.append(
                    Row(
                        "PostgreSQL, two processes against one, requests per medsys CPU-second",
                        f"{per_cpu[2] / per_cpu[1]:.2f}×",
                        "",
                        "",
                    )
                )
    finally:
        asyncio.run(drop_database(admin_url, name))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--uploads", type=int, default=20)
    parser.add_argument(
        "--postgres",
        help="a PostgreSQL URL whose user may create databases "
        "(postgresql+asyncpg://postgres@127.0.0.1:5432/postgres): adds --workers 2 against 1",
    )
    arguments = parser.parse_args()
    # Orthanc runs in a private network namespace, where PostgreSQL on the host is out of
    # reach: with --postgres, the images are measured in another run.
    with_orthanc = orthanc_installed() and os.geteuid() == 0 and not arguments.postgres
    if with_orthanc:
        in_private_network("bench.http", sys.argv[1:])
    rows: list[Row] = []
    singles = {}
    for size in (int(size) for size in arguments.sizes.split(",") if size):  # "": images only
        size_rows, singles[size] = reads(size, arguments.seconds)
        rows += size_rows
    if len(singles) > 1:
        smallest, largest = min(singles), max(singles)
        rows.append(
            Row(
                f"single read req/s, {largest:,} against {smallest:,} questions",
                f"{singles[largest].rate / singles[smallest].rate:.2f}×",
                "",
                "",
            )
        )
    if arguments.postgres:
        rows += postgres_workers(arguments.postgres, 10_000, arguments.seconds)
    if arguments.uploads <= 0:
        print("no image comparison: --uploads 0")
    elif with_orthanc:
        rows += images(arguments.uploads)
    else:
        print("no image comparison: Orthanc is not installed, not root, or --postgres given")
    tool = "wrk -t2" if shutil.which("wrk") else "a Python client (wrk is not installed)"
    print(f"load: {tool}, {arguments.seconds} s per run; ratio = medsys / reference")
    if not rows:
        return
    width = max(len(row.measurement) for row in rows)
    print(f"{'measurement':{width}} | {'medsys':>8} | {'reference':>9} | ratio")
    for row in rows:
        print(f"{row.measurement:{width}} | {row.medsys:>8} | {row.reference:>9} | {row.ratio}")


if __name__ == "__main__":
    main()
