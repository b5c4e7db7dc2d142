"""The paged list model on an in-memory fetcher: no server, the real runner thread."""

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from pytestqt.qtbot import QtBot

from desktop.http import ApiError
from desktop.models.paged import Column, PagedTableModel, display
from desktop.runner import AsyncRunner
from shared.base import Page

PAGE = 50
Item = tuple[int, str]
COLUMNS = [Column[Item]("Id", lambda item: item[0]), Column[Item]("Text", lambda item: item[1])]


class Fetcher:
    """Pages of (id, text) like the API's lists: newest first, an opaque cursor."""

    def __init__(self, count: int) -> None:
        self.items = [(number, f"Item {number}") for number in range(count, 0, -1)]
        self.calls: list[str | None] = []
        self.fail_next: ApiError | None = None

    async def __call__(self, cursor: str | None) -> Page[Item]:
        self.calls.append(cursor)
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        start = int(cursor or 0)
        end = start + PAGE
        more = end < len(self.items)
        return Page[Item](items=self.items[start:end], next_cursor=str(end) if more else None)


@pytest.fixture
def runner() -> Iterator[AsyncRunner]:
    runner = AsyncRunner()
    yield runner
    runner.stop()


def loaded(qtbot: QtBot, model: PagedTableModel[Item]) -> None:
    qtbot.waitUntil(lambda: not model.is_loading)


def test_pages_arrive_as_the_view_asks_for_more(qtbot: QtBot, runner: AsyncRunner) -> None:
    fetcher = Fetcher(120)
    model = PagedTableModel[Item](runner.submit, COLUMNS)
    with qtbot.waitSignal(model.rowsInserted):
        model.set_fetcher(fetcher)
    loaded(qtbot, model)
    assert model.rowCount() == 50
    assert model.index(0, 1).data() == "Item 120"
    assert model.canFetchMore()
    for _ in range(2):
        with qtbot.waitSignal(model.rowsInserted):
            model.fetchMore()
        loaded(qtbot, model)
    assert model.rowCount() == 120
    assert not model.canFetchMore()
    assert model.index(119, 0).data() == "1"
    assert fetcher.calls == [None, "50", "100"]


def test_reload_starts_over_and_drops_a_stale_answer(qtbot: QtBot, runner: AsyncRunner) -> None:
    fetcher = Fetcher(10)
    model = PagedTableModel[Item](runner.submit, COLUMNS)
    model.set_fetcher(fetcher)
    model.reload()  # before the first answer: only the second may fill the model
    loaded(qtbot, model)
    assert model.rowCount() == 10
    assert [model.item(row)[0] for row in range(3)] == [10, 9, 8]


def test_a_failure_is_reported_and_the_rows_stay(qtbot: QtBot, runner: AsyncRunner) -> None:
    fetcher = Fetcher(80)
    model = PagedTableModel[Item](runner.submit, COLUMNS)
    model.set_fetcher(fetcher)
    loaded(qtbot, model)
    fetcher.fail_next = ApiError(503, "The database is temporarily unavailable.")
    with qtbot.waitSignal(model.failed) as failure:
        model.fetchMore()
    assert failure.args[0].status == 503
    assert model.rowCount() == 50
    assert model.canFetchMore()  # the user may scroll again


def test_clear_empties_the_model_and_fetches_nothing(qtbot: QtBot, runner: AsyncRunner) -> None:
    fetcher = Fetcher(5)
    model = PagedTableModel[Item](runner.submit, COLUMNS)
    model.set_fetcher(fetcher)
    loaded(qtbot, model)
    model.clear()
    assert model.rowCount() == 0
    assert not model.canFetchMore()
    assert fetcher.calls == [None]


def test_values_are_shown_as_a_person_reads_them() -> None:
    assert display(None) == ""
    assert display(True) == "yes"
    assert display(datetime(2026, 11, 29, 12, 0, tzinfo=UTC)).startswith("2026-11-29")
