"""The DICOM tags of an image, searchable by tag number, keyword or value."""

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from shared.models import DicomTag


class DicomTagPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = QStandardItemModel(0, 4, self)
        self.model.setHorizontalHeaderLabels(["Tag", "Keyword", "VR", "Value"])
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setFilterKeyColumn(-1)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search tags: number, keyword or value")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.proxy.setFilterFixedString)
        self.table = QTableView(self)
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.resizeSection(1, 130)
        # The value takes the room that is left, wrapped on several lines rather than cut.
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        # Keyword and value are what a reader looks for; the search still finds numbers.
        self.table.hideColumn(0)
        self.table.hideColumn(2)
        self.table.setWordWrap(True)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setAccessibleName("DICOM tags")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.search)
        layout.addWidget(self.table, 1)

    def set_tags(self, tags: list[DicomTag]) -> None:
        self.model.removeRows(0, self.model.rowCount())
        for tag in tags:
            items = [QStandardItem(text) for text in (tag.tag, tag.keyword, tag.vr, tag.value)]
            # The number and VR are in the keyword's tooltip (their columns are hidden in a
            # narrow panel); a long value is read whole in its own.
            items[1].setToolTip(f"{tag.tag} {tag.vr}")
            items[3].setToolTip(tag.value)
            self.model.appendRow(items)

    def visible_keywords(self) -> list[str]:
        return [self.proxy.index(row, 1).data() for row in range(self.proxy.rowCount())]
