"""What a logged-in window needs: the API client, the runner, the user and their image cache."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Signal

from desktop.api import ApiClient, ApiError
from desktop.cache import ImageCache
from desktop.runner import AsyncRunner, Job, Task
from shared.models import User


class SessionEvents(QObject):
    """Failures that concern the whole window, not one widget."""

    expired = Signal(str)  # the server refused the token: back to the login window
    unreachable = Signal(str)  # the server could not be reached
    reachable = Signal()
    # A read met an unavailable server and is tried again (emitted from the runner's thread).
    retrying = Signal(str)


@dataclass
class Session:
    api: ApiClient
    runner: AsyncRunner
    user: User
    cache: ImageCache
    events: SessionEvents
    # Names of the people the user has seen, by id: questions and logs carry only ids.
    names: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.names[self.user.id] = self.user.full_name
        self.api.on_retry = self.events.retrying.emit
        self.api.on_recovered = self.events.reachable.emit

    def remember(self, people: list[Any]) -> None:
        for person in people:
            self.names[person.id] = person.full_name

    def name(self, user_id: int | None, nobody: str = "any doctor") -> str:
        if user_id is None:
            return nobody
        return self.names.get(user_id, f"user #{user_id}")

    def run(
        self,
        job: Job,
        on_success: Callable[[Any], None] | None = None,
        on_error: Callable[[ApiError], None] | None = None,
    ) -> Task:
        """Submit a job; an expired session or a lost server is reported to the window, other
        errors to `on_error` (the caller shows the problem's detail where it belongs)."""
        task = self.runner.submit(job)
        if on_success is not None:
            task.succeeded.connect(on_success)
        task.succeeded.connect(lambda _result: self.events.reachable.emit())
        task.failed.connect(lambda error: self._failed(error, on_error))
        return task

    def _failed(self, error: object, on_error: Callable[[ApiError], None] | None) -> None:
        if not isinstance(error, ApiError):
            error = ApiError(-1, f"Something went wrong: {error}")
        if error.status == 401:
            self.events.expired.emit(error.detail)
            return
        if error.status == 0:
            self.events.unreachable.emit(error.detail)
        if on_error is not None:
            on_error(error)
