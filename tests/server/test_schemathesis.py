"""The API against its own OpenAPI document, fuzzed by schemathesis as each role: no answer is
a 5xx, and every status, content type and body is one the document declares.

A small example count and a fixed seed keep the run quick and repeatable; a real server
process on the demo practice, a fresh one per role (an admin's run changes accounts).
"""

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from devtools.live_server import run_cli, server_environment
from server.seed import DEMO_PASSWORD
from tests.server.live import running

ACCOUNTS = {
    "patient": "paula@medsys.example",
    "doctor": "grace@medsys.example",
    "admin": "admin@medsys.example",
}
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance"
)


def token_of(url: str, email: str) -> str:
    request = urllib.request.Request(
        f"{url}/api/login",
        data=json.dumps({"email": email, "password": DEMO_PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(json.load(response)["access_token"])


@pytest.mark.parametrize("role", list(ACCOUNTS))
def test_every_answer_conforms_to_the_openapi_document(role: str, tmp_path: Path) -> None:
    environment = server_environment(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'medsys.db'}")
    for command in ("migrate", "seed-demo"):
        assert run_cli(environment, command).returncode == 0
    with running(environment) as server:
        token = token_of(server.url, ACCOUNTS[role])
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "run",
                f"{server.url}/api/openapi.json",
                "--header",
                f"Authorization: Bearer {token}",
                "--checks",
                CHECKS,
                "--max-examples",
                "5",
                "--seed",
                "20261129",
                "--generation-database",
                "none",
                # These end the session the run authenticates with.
                "--exclude-path",
                "/api/logout",
                "--exclude-path",
                "/api/profile/password",
                "--request-timeout",
                "30",
                "--no-color",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
