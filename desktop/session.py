"""What a logged-in window needs: the API client, the runner, the user and their image cache."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Signal

from desktop.api import ApiClient, ApiError
from desktop.cache import ImageCache
from desktop.drafts import Drafts
from desktop.live import LiveConnection
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
    ended: bool = False
    # The practice's longest idle time before the log-off (minutes), as the server says.
    idle_limit_minutes: float | None = None
    drafts: Drafts = field(default_factory=Drafts)
    # What changed on the server, as it happens (started by the window).
    live: LiveConnection = field(init=False)

    def __post_init__(self) -> None:
        self.names[self.user.id] = self.user.full_name
        self.live = LiveConnection(self.api.open_events, self.runner.loop)
        self.live.ended.connect(self._live_ended)
        self.api.on_retry = self.events.retrying.emit
        self.api.on_recovered = self.events.reachable.emit

    @property
    def server_url(self) -> str:
        return self.api.base_url

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
        """Submit a job with callbacks; errors reach `on_error` as ApiError (the caller shows
        the problem's detail where it belongs)."""
        task = self.submit(job)
        # Answers that arrive after the session ended find their widgets deleted: dropped.
        if on_success is not None:
            task.succeeded.connect(lambda result: None if self.ended else on_success(result))
        if on_error is not None:
            task.failed.connect(lambda error: None if self.ended else on_error(as_api_error(error)))
        return task

    def end(self) -> None:
        """The window is going away: answers still on their way are not delivered."""
        self.ended = True
        self.live.stop()

    def _live_ended(self, detail: str) -> None:
        if not self.ended:
            self.events.expired.emit(detail)

    def submit(self, job: Job) -> Task:
        """Run a job for this session: the one way to the server once logged in. Any 401 ends
        the session (the window closes; the task reports `cancelled`), an unreachable server
        is shown in the window (and the task fails), a success shows it reachable again."""
        task = self.runner.submit(job, intercept=self._intercept)
        task.succeeded.connect(lambda _result: self.events.reachable.emit())
        return task

    def _intercept(self, error: object) -> bool:
        if self.ended:
            return True
        error = as_api_error(error)
        if error.status == 401:
            self.events.expired.emit(error.detail)
            return True
        if error.status == 0:
            self.events.unreachable.emit(error.detail)
        return False


def as_api_error(error: object) -> ApiError:
    """Any failure as an ApiError (a bug in a job becomes a readable message, status -1)."""
    return error if isinstance(error, ApiError) else ApiError(-1, f"Something went wrong: {error}")
