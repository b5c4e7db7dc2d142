"""The HTTP transport of the desktop's API client: requests, errors and retries.

Every method is a coroutine run on the runner's loop (see runner.py); errors are raised as
`ApiError` carrying the server's problem details.
"""

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from pydantic import BaseModel, TypeAdapter, ValidationError

from shared.base import Page, Problem

ModelT = TypeVar("ModelT", bound=BaseModel)
ResultT = TypeVar("ResultT")
Progress = Callable[[int, int], None]
CHUNK = 64 * 1024
# Seconds between the attempts of a read while the server is unavailable (a restart, the
# database away); the server's Retry-After is honoured when longer, up to MAX_RETRY_WAIT.
READ_RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 15.0)
MAX_RETRY_WAIT = 30.0
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD"})


def _retry_after(response: aiohttp.ClientResponse) -> float | None:
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None


def _clean(params: Mapping[str, object | None]) -> dict[str, str]:
    result = {}
    for key, value in params.items():
        if value is None or value == "":
            continue
        result[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return result


def body_of(model: BaseModel) -> dict[str, Any]:
    """A request model as JSON: only the fields that were given (a PATCH changes only those).

    The desktop builds request models without validating them (`model_construct`): the
    server's answer, with its field errors, is what the user is shown."""
    # Unvalidated values may not be of the field's type (that is the server's to say).
    return model.model_dump(mode="json", exclude_unset=True, warnings=False)


class ApiError(Exception):
    """A refused request, or a server that could not be reached (status 0)."""

    def __init__(
        self,
        status: int,
        detail: str,
        problem: Problem | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.problem = problem
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        """The server is out of reach or temporarily unavailable: trying again may work."""
        return self.status in (0, 503)

    @property
    def field_errors(self) -> dict[str, str]:
        if self.problem is None or not self.problem.errors:
            return {}
        return {error.field: error.message for error in self.problem.errors}


class HttpClient:
    """The transport under ApiClient: one aiohttp session, the bearer token, problem+json
    errors as ApiError, retries of reads while the server is unavailable, streamed downloads."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.token: str | None = None
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self.retry_delays: tuple[float, ...] = READ_RETRY_DELAYS
        # Told (on the runner's thread) when a read is retried, and when a retried read
        # succeeds, so the window can say so.
        self.on_retry: Callable[[str], None] = lambda _message: None
        self.on_recovered: Callable[[], None] = lambda: None

    def _http(self) -> aiohttp.ClientSession:
        if self._closed:
            # A call still under way at logout (the live events' reconnection, a retried
            # read) must not open a new connection pool that nobody would close.
            raise ApiError(401, "The session has ended: you have logged out.")
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=60)
            )
        return self._session

    @property
    def has_open_connections(self) -> bool:
        """Whether this client holds a connection pool that is still open."""
        return self._session is not None and not self._session.closed

    async def close(self) -> None:
        """End the client for good (at logout, or a failed login)."""
        self._closed = True
        if self._session is not None:
            await self._session.close()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def _unreachable(self, error: aiohttp.ClientError) -> ApiError:
        return ApiError(0, f"Cannot reach the server at {self.base_url} ({type(error).__name__}).")

    async def _error(self, response: aiohttp.ClientResponse) -> ApiError:
        text = await response.text()
        retry_after = _retry_after(response)
        try:
            problem = Problem.model_validate_json(text)
        except ValidationError:
            return ApiError(
                response.status,
                f"The server answered {response.status} {response.reason}.",
                retry_after=retry_after,
            )
        return ApiError(response.status, problem.detail, problem, retry_after)

    async def _retrying(self, method: str, attempt: Callable[[], Awaitable[ResultT]]) -> ResultT:
        """Run `attempt`; a read that meets an unavailable server is tried again a few times,
        with growing pauses. Writes are never repeated: the first may have been applied."""
        delays = iter(self.retry_delays if method in IDEMPOTENT_METHODS else ())
        retried = False
        while True:
            try:
                result = await attempt()
            except ApiError as error:
                delay = next(delays, None) if error.transient else None
                if delay is None:
                    raise
                wait = min(max(delay, error.retry_after or 0.0), MAX_RETRY_WAIT)
                self.on_retry(f"The server is temporarily unavailable; retrying in {wait:g} s…")
                retried = True
                await asyncio.sleep(wait)
            else:
                if retried:
                    self.on_recovered()
                return result

    async def _call(self, method: str, path: str, **options: Any) -> bytes:
        """One request (`json`, `params` or `data` in `options`), retried if it is a read."""
        return await self._retrying(method, lambda: self._call_once(method, path, **options))

    async def _call_once(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, object | None] | None = None,
        data: Any = None,
    ) -> bytes:
        try:
            async with self._http().request(
                method,
                f"{self.base_url}{path}",
                json=json,
                params=_clean(params or {}),
                data=data,
                headers=self._headers(),
            ) as response:
                if response.status >= 400:
                    raise await self._error(response)
                return await response.read()
        except aiohttp.ClientError as error:
            raise self._unreachable(error) from None

    async def open_events(self, after: int | None) -> aiohttp.ClientWebSocketResponse:
        """The live events socket (GET /api/events), resuming after event `after`; a refusal
        is an ApiError with the handshake's status (401: the session has ended)."""
        params = {} if after is None else {"after": str(after)}
        try:
            return await self._http().ws_connect(
                f"{self.base_url}/api/events", params=params, headers=self._headers()
            )
        except aiohttp.WSServerHandshakeError as error:
            detail = f"The server refused live updates ({error.status})."
            raise ApiError(error.status, detail) from None
        except aiohttp.ClientError as error:
            raise self._unreachable(error) from None

    async def _model(self, model: type[ModelT], method: str, path: str, **kwargs: Any) -> ModelT:
        return model.model_validate_json(await self._call(method, path, **kwargs))

    async def _page(
        self, item: type[ModelT], path: str, params: Mapping[str, object | None]
    ) -> Page[ModelT]:
        body = await self._call("GET", path, params=params)
        return TypeAdapter(Page[item]).validate_json(body)  # type: ignore[valid-type]

    async def download(self, path: str, destination: Path, progress: Progress) -> dict[str, str]:
        """Stream an image to `destination` (atomically); the answer's headers."""
        return await self._retrying("GET", lambda: self._download_once(path, destination, progress))

    async def _download_once(
        self, path: str, destination: Path, progress: Progress
    ) -> dict[str, str]:
        partial = destination.with_name(f"{destination.name}.partial")
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            async with self._http().get(
                f"{self.base_url}{path}", headers=self._headers()
            ) as response:
                if response.status >= 400:
                    raise await self._error(response)
                total, done = response.content_length or 0, 0
                with partial.open("wb") as handle:
                    async for chunk in response.content.iter_chunked(CHUNK):
                        handle.write(chunk)
                        done += len(chunk)
                        progress(done, total)
                partial.replace(destination)
                return dict(response.headers)
        except aiohttp.ClientError as error:
            raise self._unreachable(error) from None
        finally:
            partial.unlink(missing_ok=True)
