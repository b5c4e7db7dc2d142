"""Every call the desktop makes to the server, one module per feature.

Widgets ask an operation and get a `Task` (its outcome comes back on the GUI thread through the
callbacks given) or a page fetcher for a list model; they never hold the API client. Each call
runs through the session, so a 401 ends the session wherever it comes from, an unreachable
server shows in the window, and errors reach the caller as `ApiError` with the problem's detail.
"""

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from desktop.http import ApiError
from desktop.runner import Progress, Task

if TYPE_CHECKING:
    from desktop.session import Session

OnSuccess = Callable[[Any], None]
OnError = Callable[[ApiError], None]


def call(
    session: "Session",
    work: Callable[[], Awaitable[Any]],
    on_success: OnSuccess | None = None,
    on_error: OnError | None = None,
) -> Task:
    """Run one API call for the session in the background (see Session.run)."""

    async def job(_progress: Progress) -> Any:
        return await work()

    return session.run(job, on_success, on_error)
