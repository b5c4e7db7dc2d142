"""The operations contract, with real processes: migrate, serve, create-user, seed-demo."""

import json
import urllib.request
from pathlib import Path

import pytest

from devtools.live_server import LiveServer, run_cli, server_environment


@pytest.fixture
def environment(tmp_path: Path, database_url: str) -> dict[str, str]:
    return server_environment(tmp_path, database_url)


@pytest.fixture
def unmigrated(tmp_path: Path) -> dict[str, str]:
    return server_environment(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'new.db'}")


def get_json(url: str, token: str | None = None) -> object:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def login(base: str, email: str, password: str) -> str:
    request = urllib.request.Request(
        f"{base}/api/login",
        data=json.dumps({"email": email, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(json.load(response)["access_token"])


def test_serve_refuses_an_unmigrated_database(unmigrated: dict[str, str]) -> None:
    result = run_cli(unmigrated, "serve", "--port", "0")
    assert result.returncode == 2
    assert "migrate" in result.stderr


def test_migrate_then_serve_then_stop_on_sigterm(
    unmigrated: dict[str, str], tmp_path: Path
) -> None:
    migrated = run_cli(unmigrated, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert run_cli(unmigrated, "migrate").returncode == 0  # idempotent
    server = LiveServer(unmigrated)
    url = server.start()
    try:
        assert get_json(f"{url}/api/health") == {"status": "ok", "database": "ok", "storage": "ok"}
    finally:
        output = server.stop()
    assert server.process is not None
    assert server.process.returncode == 0
    assert "medsys has stopped." in output
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0  # generated, owner-only


def test_create_user_reads_the_password_from_stdin(environment: dict[str, str]) -> None:
    arguments = [
        "create-user",
        "--usertype",
        "admin",
        "--email",
        "Boss@Practice.example",
        "--full-name",
        "The Boss",
        "--password-stdin",
    ]
    created = run_cli(environment, *arguments, stdin="s3cret password\nignored second line\n")
    assert created.returncode == 0, created.stderr
    again = run_cli(
        environment, *[a.replace("Boss@", "boss@") for a in arguments], stdin="another one\n"
    )
    assert again.returncode == 1
    assert "already exists" in again.stderr
    short = run_cli(
        environment,
        "create-user",
        "--usertype",
        "doctor",
        "--email",
        "d@p.example",
        "--full-name",
        "D",
        "--password-stdin",
        stdin="short\n",
    )
    assert short.returncode == 1
    assert "password" in short.stderr

    server = LiveServer(environment)
    url = server.start()
    try:
        token = login(url, "boss@practice.example", "s3cret password")
        profile = get_json(f"{url}/api/profile", token)
        assert isinstance(profile, dict)
        assert (profile["usertype"], profile["email"], profile["full_name"]) == (
            "admin",
            "Boss@Practice.example",
            "The Boss",
        )
    finally:
        server.stop()


def test_seed_demo_fills_an_empty_database_once(environment: dict[str, str]) -> None:
    seeded = run_cli(environment, "seed-demo")
    assert seeded.returncode == 0, seeded.stderr
    assert "paula@medsys.example" in seeded.stdout
    assert "Demo data added." in seeded.stdout
    again = run_cli(environment, "seed-demo")
    assert again.returncode == 0
    assert "nothing added" in again.stdout

    server = LiveServer(environment)
    url = server.start()
    try:
        token = login(url, "paula@medsys.example", "medsys-demo")
        paula = get_json(f"{url}/api/profile", token)
        assert isinstance(paula, dict)
        xrays = get_json(f"{url}/api/xrays/{paula['id']}", token)
        assert isinstance(xrays, dict)
        assert {x["content_type"] for x in xrays["items"]} == {"application/dicom", "image/png"}
        questions = get_json(f"{url}/api/questions", token)
        assert isinstance(questions, dict)
        assert len(questions["items"]) == 2
    finally:
        server.stop()


def _children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


def test_several_workers_share_one_port_on_postgresql(
    environment: dict[str, str], database_url: str
) -> None:
    assert run_cli(environment, "migrate").returncode == 0
    if database_url.startswith("sqlite"):
        refused = run_cli(environment, "serve", "--port", "0", "--workers", "2")
        assert refused.returncode == 2
        assert "needs PostgreSQL" in refused.stderr
        return
    server = LiveServer(environment, extra_args=("--workers", "2"))
    url = server.start()
    assert server.process is not None
    try:
        workers = _children(server.process.pid)
        assert len(workers) == 2
        for _ in range(20):
            assert get_json(f"{url}/api/health") == {
                "status": "ok",
                "database": "ok",
                "storage": "ok",
            }
    finally:
        output = server.stop()
    assert server.process.returncode == 0
    assert "medsys has stopped." in output
    assert all(not Path(f"/proc/{worker}").exists() for worker in workers)
