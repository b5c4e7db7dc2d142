"""A list panel: a sortable, filterable table over a paged model, with its loading state."""

from typing import Any

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.api import ApiError
from desktop.models.paged import PagedTableModel, sortable
from desktop.widgets.forms import error_label, set_message


class ListPanel(QWidget):
    """`selected(item)` and `activated(item)` carry the model's items, not indexes."""

    selected = Signal(object)
    activated = Signal(object)
    # The selected item changed on the server (a live refresh): the new one.
    current_updated = Signal(object)

    def __init__(
        self,
        model: PagedTableModel[Any],
        placeholder: str = "Filter…",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.proxy = sortable(model, self)
        self.filter_edit = QLineEdit(self)
        self.filter_edit.setAccessibleName(placeholder.rstrip("…."))
        self.filter_edit.setPlaceholderText(placeholder)
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self.proxy.setFilterFixedString)
        self.busy = QProgressBar(self)
        self.busy.setRange(0, 0)  # indeterminate while a page loads
        self.busy.setMaximumHeight(6)
        self.busy.setTextVisible(False)
        self.busy.setVisible(False)
        self.empty_label = QLabel("Nothing here yet.", self)
        self.empty_label.setStyleSheet("color: gray;")
        self.error = error_label(self)
        self.table = QTableView(self)
        # "Filter the queue…" names the list it filters: "queue".
        self.table.setAccessibleName(placeholder.removeprefix("Filter the ").rstrip("…."))
        self.table.setModel(self.proxy)
        # No sort until the user asks: the server's order (newest first, or the queue's
        # oldest first) is the meaningful one.
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.table.activated.connect(self._activated)
        self.table.doubleClicked.connect(self._activated)

        self.refresh_button = QToolButton(self)
        refresh = QAction("Refresh", self)
        refresh.setShortcut(QKeySequence(QKeySequence.StandardKey.Refresh))
        refresh.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        refresh.setToolTip(f"Load the list again ({refresh.shortcut().toString()})")
        refresh.triggered.connect(model.reload)
        self.addAction(refresh)
        self.refresh_button.setDefaultAction(refresh)
        self.refresh_button.setText("↻")
        self.header = QHBoxLayout()
        self.header.addWidget(self.filter_edit, 1)
        self.header.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.header)
        layout.addWidget(self.busy)
        layout.addWidget(self.error)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty_label)
        model.loading_changed.connect(self._loading)
        model.failed.connect(self._failed)
        model.modelReset.connect(self._update_empty)
        model.rowsInserted.connect(self._update_empty)
        model.modelReset.connect(self._fit_columns_next_time)
        model.rowsInserted.connect(self._fit_columns)
        model.rowsRemoved.connect(self._update_empty)
        model.dataChanged.connect(self._data_changed)
        self._columns_fitted = False

    def _fit_columns_next_time(self) -> None:
        self._columns_fitted = False

    def _fit_columns(self) -> None:
        # Once per reload, on the first page: later pages keep the widths the user sees.
        if not self._columns_fitted:
            self._columns_fitted = True
            self.table.resizeColumnsToContents()
            for column in range(self.model.columnCount()):
                self.table.setColumnWidth(column, min(self.table.columnWidth(column), 320))

    def _loading(self, loading: bool) -> None:
        self.busy.setVisible(loading)
        if loading:
            set_message(self.error, "")
        self._update_empty()

    def _failed(self, error: object) -> None:
        set_message(self.error, error.detail if isinstance(error, ApiError) else str(error))

    def _update_empty(self) -> None:
        self.empty_label.setVisible(self.model.rowCount() == 0 and not self.model.is_loading)

    def _item_at(self, index: QModelIndex) -> Any:
        source = self.proxy.mapToSource(index)
        return self.model.item(source.row()) if source.isValid() else None

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.selected.emit(self._item_at(current))

    def _data_changed(self, top_left: QModelIndex, bottom_right: QModelIndex) -> None:
        current = self.proxy.mapToSource(self.table.currentIndex())
        if current.isValid() and top_left.row() <= current.row() <= bottom_right.row():
            self.current_updated.emit(self.model.item(current.row()))

    def _activated(self, index: QModelIndex) -> None:
        item = self._item_at(index)
        if item is not None:
            self.activated.emit(item)

    def current_item(self) -> Any:
        return self._item_at(self.table.currentIndex())

    def select_row(self, row: int) -> None:
        self.table.selectRow(row)

    def select_id(self, item_id: int) -> None:
        """Select the item with that id once it is in the list (it may still be loading)."""
        for row, item in enumerate(self.model.items):
            if getattr(item, "id", None) == item_id:
                self.table.selectRow(self.proxy.mapFromSource(self.model.index(row, 0)).row())
                return
        if self.model.is_loading:
            self.model.loading_changed.connect(
                lambda _loading: self.select_id(item_id), Qt.ConnectionType.SingleShotConnection
            )
