"""The server as a child process on a free loopback port: for tests, benchmarks and the
desktop's screenshot mode."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import requests


def server_environment(data_dir: Path, database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a throw-away server: its own data dir, cheap password hashing."""
    environment = dict(os.environ)
    environment.update(
        MEDSYS_DATA_DIR=str(data_dir),
        MEDSYS_DATABASE_URL=database_url,
        MEDSYS_ARGON2_MEMORY_KIB="64",
        MEDSYS_ARGON2_TIME_COST="1",
        PYTHONUNBUFFERED="1",
    )
    environment.update(extra)
    return environment


def run_cli(
    environment: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class LiveServer:
    """`python -m server serve --port 0`; the URL is read from the line it prints."""

    def __init__(
        self,
        environment: dict[str, str],
        extra_args: tuple[str, ...] = (),
        prefix: tuple[str, ...] = (),
    ) -> None:
        self.environment = environment
        self.extra_args = extra_args
        # A command the server runs under (tests: `unshare`, to give it a small disk).
        self.prefix = prefix
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        # What the server printed before it announced itself (start-up logs).
        self.startup_output = ""
        self._output: Output | None = None

    def start(self) -> str:
        self.process = subprocess.Popen(
            [
                *self.prefix,
                sys.executable,
                "-m",
                "server",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                *self.extra_args,
            ],
            env=self.environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        if self.process.stdout is None:
            raise RuntimeError("the server's output is not captured")
        # readline() blocks until the server announces itself or exits: no polling needed.
        for line in self.process.stdout:
            self.startup_output += line
            if line.startswith("medsys is serving on "):
                self.url = line.removeprefix("medsys is serving on ").split()[0]
                self._output = Output(self.process.stdout)
                return self.url
        raise RuntimeError(
            f"the server exited with {self.process.wait()} before serving:\n{self.startup_output}"
        )

    def stop(self) -> str:
        """SIGTERM, then the rest of the output; the process must end on its own."""
        if self.process is None or self.process.stdout is None or self._output is None:
            return ""
        self.process.terminate()
        output = self._output.rest(OUTPUT_END_SECONDS)
        if output is None:
            raise RuntimeError("the server's output never ended: a process it started runs on")
        self.process.wait(timeout=30)
        self.process.stdout.close()
        return output

    def wait_for_output(self, text: str, seconds: float) -> str:
        """The first line the server has printed since it started serving, or prints within
        `seconds`, that holds `text`. Blocking."""
        if self._output is None:
            raise RuntimeError("the server is not serving")
        return self._output.line_with(text, seconds)

    def discard_output(self) -> None:
        """After the server was killed: the rest of its output is not wanted."""
        if self._output is not None:
            self._output.rest(OUTPUT_END_SECONDS)
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()


# How long a stopped server's output may take to end: the processes it started (its decoding
# workers) hold it too, and end with it.
OUTPUT_END_SECONDS = 60


class Output:
    """A child's output, read to its end as it comes by a thread of its own, so that the child
    never waits on a full pipe: pynetdicom logs every C-STORE, and a benchmark of 600 films
    filled the 64 KB pipe and stopped the server mid-burst, every thread that logged waiting
    to write."""

    def __init__(self, stream: IO[str]) -> None:
        self._lines: list[str] = []
        self._ended = False
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with self._changed:
                self._lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def line_with(self, text: str, seconds: float) -> str:
        """The first line read, or to be read within `seconds`, that holds `text`."""
        deadline = time.monotonic() + seconds
        looked = 0
        with self._changed:
            while True:
                for line in self._lines[looked:]:
                    if text in line:
                        return line
                looked = len(self._lines)
                left = deadline - time.monotonic()
                if self._ended or left <= 0:
                    raise LookupError(f"the server printed no line with {text!r}")
                self._changed.wait(left)

    def rest(self, seconds: float) -> str | None:
        """All that was read, once the output has ended; None if it has not ended within
        `seconds` (a process that holds the pipe's other end runs on: the reading thread is
        left to end with it)."""
        self._reader.join(seconds)
        if self._reader.is_alive():
            return None
        return "".join(self._lines)


def create_user(
    environment: dict[str, str], usertype: str, email: str, full_name: str, password: str
) -> None:
    """`create-user` as an operator runs it (password on stdin); RuntimeError if refused."""
    result = run_cli(
        environment,
        "create-user",
        "--usertype",
        usertype,
        "--email",
        email,
        "--full-name",
        full_name,
        "--password-stdin",
        stdin=f"{password}\n",
    )
    if result.returncode != 0:
        raise RuntimeError(f"create-user {email} failed: {result.stderr}")


def process_tree(pid: int) -> list[int]:
    """A process and every process it started, and they started (the server's `--workers`,
    its decoding workers and their fork server)."""
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            children += [int(child) for child in task.read_text().split()]
        except FileNotFoundError:
            continue
    return [pid, *(process for child in children for process in process_tree(child))]


def cpu_seconds(pid: int) -> float:
    """The CPU time a process (all its threads) has used; 0 for one that has gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """`cpu_seconds` of a process and the processes it started (the server's workers)."""
    return sum(cpu_seconds(process) for process in process_tree(pid))


def memory_kb(pid: int, field: str) -> int:
    """A line of /proc/PID/status in kB: VmHWM (peak resident), VmRSS (resident now); 0 for
    a process that has ended."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    for line in lines:
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(field)


def proportional_kb(pid: int) -> int:
    """A process's proportional set size (Pss): its resident memory with each page shared
    with other processes (forked workers share their parent's) counted as its share, so the
    sum over a process tree is the memory the tree takes. 0 for a process that has ended."""
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return next(int(line.split()[1]) for line in lines if line.startswith("Pss:"))


def resident_mb(pid: int) -> float:
    """The memory a process and all it started take (their proportional set sizes), in MB."""
    return sum(proportional_kb(process) for process in process_tree(pid)) / 1024


def log_in(url: str, email: str, password: str) -> dict[str, object]:
    """POST /api/login as a client would; its JSON (token and user). Raises on refusal."""
    answer = requests.post(
        f"{url}/api/login", json={"email": email, "password": password}, timeout=30
    )
    answer.raise_for_status()
    result: dict[str, object] = answer.json()
    return result
