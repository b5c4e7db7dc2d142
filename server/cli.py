"""`python -m server` / `medsys-server`: migrate, serve, create-user, seed-demo, fsck."""

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from dataclasses import replace

from pydantic import ValidationError

from server.app import create_app
from server.db import one_session, open_engine
from server.decoding import return_large_allocations_to_the_system
from server.dimse import is_loopback
from server.errors import Conflict, field_errors
from server.fsck import fsck
from server.migrate import current_revision, head_revision, upgrade_to_head
from server.security import PasswordHasher
from server.seed import DEMO_ACCOUNTS, DEMO_PASSWORD, seed_demo
from server.serving import announce, listening_socket, run, serve_on, serve_workers
from server.settings import Settings, SettingsError, settings_from_env
from server.users import create_user
from shared.models import AdminUserCreate


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="medsys-server", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply all database migrations")
    serve = commands.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument(
        "--workers", type=int, default=1, help="processes on the one port (PostgreSQL only)"
    )
    serve.add_argument(
        "--dicom-port",
        type=int,
        help="also listen for DICOM (C-ECHO, C-STORE) on this port (default MEDSYS_DICOM_PORT)",
    )
    create = commands.add_parser("create-user", help="create an active user of any type")
    create.add_argument("--usertype", required=True, choices=["patient", "doctor", "admin"])
    create.add_argument("--email", required=True)
    create.add_argument("--full-name", required=True)
    create.add_argument("--phone")
    create.add_argument(
        "--password-stdin",
        action="store_true",
        required=True,
        help="read the password from the first line of standard input",
    )
    commands.add_parser("seed-demo", help="fill an empty database with demo users and records")
    check = commands.add_parser(
        "fsck",
        help="check the image store against the database; remove files no x-ray refers to",
    )
    check.add_argument(
        "--grace-seconds",
        type=int,
        help="keep files with no row younger than this (default MEDSYS_ORPHAN_GRACE_SECONDS)",
    )
    check.add_argument(
        "--verify", action="store_true", help="also hash every stored image against its row"
    )
    return parser


async def _is_migrated(settings: Settings) -> bool:
    async with open_engine(settings.database_url) as engine:
        return await current_revision(engine) == head_revision()


def _serve(settings: Settings, host: str, port: int, workers: int) -> int:
    if workers > 1 and settings.is_sqlite:
        print(
            "--workers above 1 needs PostgreSQL: SQLite has a single writer, and several "
            "processes would wait on each other. Set MEDSYS_DATABASE_URL to a PostgreSQL "
            "database, or serve with one worker.",
            file=sys.stderr,
        )
        return 2
    if not asyncio.run(_is_migrated(settings)):
        print(
            "The database is not migrated to the latest revision; "
            "run `medsys-server migrate` first.",
            file=sys.stderr,
        )
        return 2
    # Before serving, no upload of this server is in flight: what a crash left is tidied now.
    asyncio.run(fsck(settings, settings.orphan_grace_seconds))
    return_large_allocations_to_the_system()
    sock = listening_socket(host, port)
    if workers == 1:
        run(serve_on(create_app(settings), sock, lambda: announce(sock, 1)))
    else:
        # One worker holds the DICOM port (a listener per process cannot share it).
        without_dicom = replace(settings, dicom_port=None)
        serve_workers(
            lambda holds_dicom: create_app(settings if holds_dicom else without_dicom),
            sock,
            workers,
        )
    print("medsys has stopped.", flush=True)
    return 0


async def _create_user(settings: Settings, args: argparse.Namespace, password: str) -> int:
    try:
        body = AdminUserCreate.model_validate(
            {
                "full_name": args.full_name,
                "email": args.email,
                # The API requires a phone; the operator's CLI may leave it out.
                "phone": args.phone or "-",
                "usertype": args.usertype,
                "password": password,
            },
            strict=False,
        )
    except ValidationError as error:
        for item in field_errors(error):
            print(f"{item.field}: {item.message}", file=sys.stderr)
        return 1
    try:
        async with one_session(settings.database_url) as db:
            user = await create_user(
                db,
                PasswordHasher.for_settings(settings),
                full_name=body.full_name,
                email=body.email,
                phone=args.phone,
                usertype=body.usertype,
                password=body.password,
                is_active=True,
            )
            await db.commit()
    except Conflict as error:
        print(error.detail, file=sys.stderr)
        return 1
    print(f"Created {user.usertype} {user.email} (id {user.id}).")
    return 0


async def _seed(settings: Settings) -> int:
    async with one_session(settings.database_url) as db:
        seeded = await seed_demo(db, settings, PasswordHasher.for_settings(settings))
    print("Demo data added." if seeded else "The database already holds users; nothing added.")
    print(f"Demo accounts (if not changed since), password {DEMO_PASSWORD!r}:")
    for account in DEMO_ACCOUNTS:
        print(f"  {account.usertype:8} {account.email}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = settings_from_env()
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    if args.command == "migrate":
        upgrade_to_head(settings.database_url)
        print("The database is at the latest revision.")
        return 0
    if args.command == "serve":
        if args.workers < 1:
            print("--workers must be at least 1", file=sys.stderr)
            return 2
        dicom_port = args.dicom_port if args.dicom_port is not None else settings.dicom_port
        if dicom_port is not None and not settings.dicom_peers and not is_loopback(args.host):
            print(
                "The DICOM port would accept any calling AE on a network address: set "
                "MEDSYS_DICOM_PEERS to the AE titles of the practice's machines.",
                file=sys.stderr,
            )
            return 2
        settings = replace(settings, dicom_port=dicom_port, dicom_host=args.host)
        return _serve(settings, args.host, args.port, args.workers)
    if args.command == "create-user":
        line = sys.stdin.readline()
        return asyncio.run(_create_user(settings, args, line.removesuffix("\n").removesuffix("\r")))
    if args.command == "fsck":
        grace = settings.orphan_grace_seconds if args.grace_seconds is None else args.grace_seconds
        report = asyncio.run(fsck(settings, grace, verify=args.verify))
        print(report.summary())
        return 0 if report.consistent else 1
    return asyncio.run(_seed(settings))
