"""A table model over one of the API's cursor-paged lists: it fetches more as the view scrolls.

Sorting and filtering are done by a QSortFilterProxyModel on top (see `sortable`).
"""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)

from desktop.runner import Job, Progress, Task
from shared.base import Page

ItemT = TypeVar("ItemT")
Index = QModelIndex | QPersistentModelIndex
PageFetcher = Callable[[str | None], Awaitable[Page[Any]]]
# Runs a job in the background: the session's `submit`, so that a 401 ends the session.
Submit = Callable[[Job], Task]


@dataclass(frozen=True)  # no slots: Column[T](...) sets __orig_class__, which slots forbid
class Column(Generic[ItemT]):
    title: str
    value: Callable[[ItemT], object]


def display(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M")
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


class PagedTableModel(QAbstractTableModel, Generic[ItemT]):
    """Rows from a paged fetcher; `reload()` starts over, the view's scrolling pulls more."""

    loading_changed = Signal(bool)
    failed = Signal(object)

    def __init__(
        self, submit: Submit, columns: Sequence[Column[ItemT]], parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._submit = submit
        self._columns = list(columns)
        self._items: list[ItemT] = []
        self._fetcher: PageFetcher | None = None
        self._next_cursor: str | None = None
        self._task: Task | None = None  # answers of any other (superseded) task are dropped
        self._refresh_after_task = False

    # --- data ---------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._items)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        item = self._items[index.row()]
        value = self._columns[index.column()].value(item)
        if role == Qt.ItemDataRole.DisplayRole:
            return display(value)
        if role == Qt.ItemDataRole.UserRole:  # the raw value, for sorting
            return value.isoformat() if isinstance(value, datetime) else value
        if role == Qt.ItemDataRole.ToolTipRole and isinstance(value, str) and len(value) > 60:
            return value
        return None

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self._columns[section].title
        return None

    def item(self, row: int) -> ItemT:
        return self._items[row]

    @property
    def items(self) -> list[ItemT]:
        return list(self._items)

    # --- loading ------------------------------------------------------------------------

    @property
    def is_loading(self) -> bool:
        return self._task is not None

    def set_fetcher(self, fetcher: PageFetcher | None) -> None:
        self._fetcher = fetcher
        self.reload()

    def reload(self) -> None:
        """Drop every row and fetch the first page again."""
        self._refresh_after_task = False
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.beginResetModel()
        self._items = []
        self._next_cursor = None
        self.endResetModel()
        if self._fetcher is not None:
            self._fetch(None)

    def refresh(self) -> None:
        """Fetch the loaded part of the list again and fold the changes in: new rows appear,
        gone rows go, changed rows change, in place. Unlike `reload`, the view keeps its
        selection and scroll position (this is how lists follow live events)."""
        if self._fetcher is None:
            return
        if self._task is not None:
            # A load under way may have been answered before the change: refresh after it.
            self._refresh_after_task = True
            return
        fetcher, wanted = self._fetcher, max(len(self._items), 1)

        async def job(_progress: Progress) -> Page[Any]:
            items: list[Any] = []
            cursor: str | None = None
            while True:
                page = await fetcher(cursor)
                items += page.items
                cursor = page.next_cursor
                if cursor is None or len(items) >= wanted:
                    return Page[Any](items=items, next_cursor=cursor)

        self._task = self._submit(job)
        self._task.succeeded.connect(self._merge)
        self._task.failed.connect(self._fail)

    def _merge(self, page: Page[Any]) -> None:
        if self.sender() is not self._task:
            return
        self._task = None
        self.merge(page.items)
        self._next_cursor = page.next_cursor
        self._done_loading()

    def merge(self, fresh: list[ItemT]) -> None:
        """Make the rows `fresh` (items with an `id`), with row moves, inserts and removals
        rather than a reset."""
        keep = {_id(item) for item in fresh}
        for row in reversed(range(len(self._items))):
            if _id(self._items[row]) not in keep:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._items[row]
                self.endRemoveRows()
        for row, item in enumerate(fresh):
            here = self._items[row] if row < len(self._items) else None
            if here is not None and _id(here) == _id(item):
                if here != item:
                    self._items[row] = item
                    last = self.index(row, len(self._columns) - 1)
                    self.dataChanged.emit(self.index(row, 0), last)
                continue
            moved = next(
                (i for i in range(row + 1, len(self._items)) if _id(self._items[i]) == _id(item)),
                None,
            )
            if moved is not None:
                self.beginRemoveRows(QModelIndex(), moved, moved)
                del self._items[moved]
                self.endRemoveRows()
            self.beginInsertRows(QModelIndex(), row, row)
            self._items.insert(row, item)
            self.endInsertRows()

    def clear(self) -> None:
        self._fetcher = None
        self.reload()

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008, N802
        return not parent.isValid() and self._next_cursor is not None and self._task is None

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008, N802
        if self.canFetchMore(parent):
            self._fetch(self._next_cursor)

    def _fetch(self, cursor: str | None) -> None:
        fetcher = self._fetcher
        assert fetcher is not None

        async def job(_progress: Progress) -> Page[Any]:
            return await fetcher(cursor)

        self._task = self._submit(job)
        # Bound methods, not lambdas: Qt drops the connection if the model is deleted first.
        self._task.succeeded.connect(self._append)
        self._task.failed.connect(self._fail)
        self.loading_changed.emit(True)

    def _append(self, page: Page[Any]) -> None:
        if self.sender() is not self._task:
            return
        self._task = None
        self.add_page(page)

    def add_page(self, page: Page[Any]) -> None:
        """Take a page of the list (a subclass may fold it into rows of its own)."""
        if page.items:
            first = len(self._items)
            self.beginInsertRows(QModelIndex(), first, first + len(page.items) - 1)
            self._items.extend(page.items)
            self.endInsertRows()
        self._next_cursor = page.next_cursor
        self._done_loading()

    def _done_loading(self) -> None:
        self.loading_changed.emit(False)
        if self._refresh_after_task:
            self._refresh_after_task = False
            self.refresh()

    def _fail(self, error: object) -> None:
        if self.sender() is not self._task:
            return
        self._task = None
        self.loading_changed.emit(False)
        self.failed.emit(error)


def _id(item: object) -> object:
    return getattr(item, "id", item)


def sortable(model: PagedTableModel[Any], parent: QObject | None = None) -> QSortFilterProxyModel:
    """A proxy that sorts by the raw values and filters on any column's text."""
    proxy = QSortFilterProxyModel(parent)
    proxy.setSourceModel(model)
    proxy.setSortRole(Qt.ItemDataRole.UserRole)
    proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    proxy.setFilterKeyColumn(-1)
    return proxy
