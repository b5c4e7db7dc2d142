"""Live events under load: commit-to-receipt latency with many open sockets on PostgreSQL with
two server processes, and the servers' memory per socket and over time.

Starts two `serve` processes on one fresh PostgreSQL database (LISTEN/NOTIFY between them),
opens `--sockets` WebSockets to each (one doctor's session; every socket receives every new
question), and for `--seconds` has a patient ask a question `--rate` times a second, through
the two processes in turn. Each question's event reaches every socket on both processes, so a
write made through one process is received on the other as much as on its own.

Printed, over every (event, socket) pair:
- written → received: from the event's `at` (stamped when its row is written, just before the
  commit) to the frame's arrival at the client;
- 201 → received: from the writer's 201 answer (after the commit) to the frame's arrival
  (negative when the frame beats the answer);
- the servers' resident memory before the sockets, after opening them, and each 10 s after.
The client (this process) runs on the same 2 cores: its own share of the CPU is printed too, as
a receipt that waits on a busy client counts against the server here.

    .venv/bin/python -m bench.events [--sockets 500] [--seconds 60] [--rate 4]
"""

import argparse
import asyncio
import json
import os
import resource
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

import aiohttp

from devtools.live_server import (
    LiveServer,
    create_user,
    resident_mb,
    run_cli,
    server_environment,
)
from devtools.postgres import create_database

POSTGRES = os.environ.get(
    "MEDSYS_BENCH_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
DATABASE = "medsys_bench_events"
PASSWORD = "bench password 1"


async def fresh_database() -> str:
    return await create_database(POSTGRES, DATABASE, replace=True)


async def token(http: aiohttp.ClientSession, url: str, email: str) -> dict[str, str]:
    async with http.post(
        f"{url}/api/login", json={"email": email, "password": PASSWORD}
    ) as response:
        body = await response.json()
    return {"Authorization": f"Bearer {body['access_token']}"}


class Receipts:
    """Arrival times of every event on every socket."""

    def __init__(self) -> None:
        self.arrived: dict[int, list[float]] = {}  # event id -> wall-clock arrival times
        self.written: dict[int, float] = {}  # event id -> its `at`
        self.question: dict[int, int] = {}  # event id -> the question it announces
        self.frames = 0

    async def read(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        async for message in socket:
            now = time.time()
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            event = json.loads(message.data)
            self.frames += 1
            self.arrived.setdefault(event["id"], []).append(now)
            self.written[event["id"]] = datetime.fromisoformat(event["at"]).timestamp()
            self.question[event["id"]] = event["object_id"]


async def write(
    http: aiohttp.ClientSession,
    urls: list[str],
    headers: dict[str, str],
    seconds: float,
    rate: float,
) -> list[tuple[int, float]]:
    """Ask questions at `rate` per second through the servers in turn: (question id, 201 time)."""
    answered: list[tuple[int, float]] = []
    started = time.monotonic()
    count = 0
    while time.monotonic() - started < seconds:
        url = urls[count % len(urls)]
        async with http.post(
            f"{url}/api/questions", headers=headers, json={"question_text": f"Bench {count}"}
        ) as response:
            body = await response.json()
            answered.append((body["id"], time.time()))
        count += 1
        await asyncio.sleep(max(0.0, started + count / rate - time.monotonic()))
    return answered


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def run(sockets_per_process: int, seconds: float, rate: float) -> None:
    database_url = await fresh_database()
    with tempfile.TemporaryDirectory() as scratch:
        environment = server_environment(Path(scratch), database_url)
        result = run_cli(environment, "migrate")
        if result.returncode != 0:
            raise RuntimeError(result.stderr)
        create_user(environment, "doctor", "doctor@bench.example", "Bench doctor", PASSWORD)
        create_user(environment, "patient", "patient@bench.example", "Bench patient", PASSWORD)
        servers = [LiveServer(environment), LiveServer(environment)]
        for server in servers:
            await asyncio.to_thread(server.start)
        pids = [server.process.pid for server in servers if server.process is not None]
        urls = [server.url for server in servers]
        try:
            connector = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(connector=connector) as http:
                doctor = await token(http, urls[0], "doctor@bench.example")
                patient = await token(http, urls[1], "patient@bench.example")
                before = [resident_mb(pid) for pid in pids]
                receipts = Receipts()
                sockets = []
                for url in urls:
                    for _ in range(sockets_per_process):
                        sockets.append(await http.ws_connect(f"{url}/api/events", headers=doctor))
                readers = [asyncio.create_task(receipts.read(socket)) for socket in sockets]
                opened = [resident_mb(pid) for pid in pids]
                samples: list[list[float]] = []

                async def sample() -> None:
                    while True:
                        await asyncio.sleep(10)
                        samples.append([resident_mb(pid) for pid in pids])

                sampler = asyncio.create_task(sample())
                cpu_start = resource.getrusage(resource.RUSAGE_SELF)
                wall_start = time.monotonic()
                answered = await write(http, urls, patient, seconds, rate)
                await asyncio.sleep(2)  # the last events' frames
                wall = time.monotonic() - wall_start
                cpu_end = resource.getrusage(resource.RUSAGE_SELF)
                sampler.cancel()
                for socket in sockets:
                    await socket.close()
                await asyncio.gather(*readers, return_exceptions=True)
        finally:
            for server in servers:
                await asyncio.to_thread(server.stop)

    report(receipts, answered, len(sockets), before, opened, samples, sockets_per_process)
    client_cpu = (cpu_end.ru_utime + cpu_end.ru_stime) - (cpu_start.ru_utime + cpu_start.ru_stime)
    print(f"client CPU: {client_cpu / wall * 100:.0f}% of one core over {wall:.0f} s")


def report(
    receipts: Receipts,
    answered: list[tuple[int, float]],
    socket_count: int,
    before: list[float],
    opened: list[float],
    samples: list[list[float]],
    per_process: int,
) -> None:
    events = sorted(receipts.arrived)
    asked = dict(answered)
    answered_at = {event: asked[receipts.question[event]] for event in events}
    from_written = [
        (arrival - receipts.written[event]) * 1000
        for event in events
        for arrival in receipts.arrived[event]
    ]
    from_answer = [
        (arrival - answered_at[event]) * 1000
        for event in events
        for arrival in receipts.arrived[event]
    ]
    complete = sum(1 for event in events if len(receipts.arrived[event]) == socket_count)
    print(
        f"{len(answered)} questions, {len(events)} events, {receipts.frames} frames on "
        f"{socket_count} sockets ({per_process} per process, 2 processes, PostgreSQL); "
        f"{complete} events reached every socket"
    )
    for name, values in (("written → received", from_written), ("201 → received", from_answer)):
        print(
            f"{name:20} p50 {statistics.median(values):7.1f} ms  "
            f"p99 {percentile(values, 0.99):7.1f} ms  max {max(values):7.1f} ms"
        )
    for index in range(len(before)):
        grown = opened[index] - before[index]
        print(
            f"process {index + 1}: {before[index]:.0f} MB before the sockets, "
            f"{opened[index]:.0f} MB with them ({grown * 1024 / per_process:.0f} KB per socket); "
            "every 10 s: " + ", ".join(f"{sample[index]:.0f}" for sample in samples) + " MB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sockets", type=int, default=500, help="sockets per server process")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=4.0, help="questions per second")
    arguments = parser.parse_args()
    asyncio.run(run(arguments.sockets, arguments.seconds, arguments.rate))


if __name__ == "__main__":
    main()
