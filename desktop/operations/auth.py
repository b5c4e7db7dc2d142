"""Logging in, opening an account and logging out: the calls before and after a session."""

from typing import Literal

from desktop.api import ApiClient
from desktop.runner import AsyncRunner, Progress, Task
from desktop.session import Session
from shared.models import LoginRequest, LoginResponse, RegisterRequest, User


def log_in(runner: AsyncRunner, server_url: str, email: str, password: str) -> Task:
    """Succeeds with (the logged-in ApiClient, the LoginResponse); the client is closed if
    the login fails."""
    api = ApiClient(server_url)
    body = LoginRequest.model_construct(email=email, password=password)

    async def job(_progress: Progress) -> tuple[ApiClient, LoginResponse]:
        try:
            return api, await api.login(body)
        except BaseException:
            await api.close()
            raise

    return runner.submit(job)


def register(
    runner: AsyncRunner,
    server_url: str,
    full_name: str,
    email: str,
    phone: str,
    usertype: Literal["patient", "doctor"],
    password: str,
) -> Task:
    body = RegisterRequest.model_construct(
        full_name=full_name, email=email, phone=phone, usertype=usertype, password=password
    )

    async def job(_progress: Progress) -> User:
        api = ApiClient(server_url)
        try:
            return await api.register(body)
        finally:
            await api.close()

    return runner.submit(job)


def log_out(session: Session) -> Task:
    """End the session on the server and close the client; what happens is not awaited by
    anyone (the window is already gone), so failures are not reported."""

    async def job(_progress: Progress) -> None:
        try:
            await session.api.logout()
        finally:
            await session.api.close()

    return session.runner.submit(job)
