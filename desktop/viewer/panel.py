"""The viewer with its tools: every tool is an action with a shortcut, shown in the toolbar,
in its tooltip and in the help overlay (F1)."""

from collections.abc import Callable
from functools import partial
from pathlib import Path

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QInputDialog,
    QLabel,
    QProgressBar,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from desktop.viewer.actions import EDITING, MARK_TOOLS, OTHER, VIEW, WINDOW, ToolSpec, help_html
from desktop.viewer.image import DisplayImage
from desktop.viewer.magnifier import Magnifier
from desktop.viewer.overlays import CornerOverlays
from desktop.viewer.view import WHEEL_STEP, XRayViewer
from shared.models import Annotation, WindowPreset
from shared.windowing import Window


class XRayViewerPanel(QWidget):
    """Emits `annotations_edited` when marks or the calibration change (the owner saves them)."""

    annotations_edited = Signal()

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        can_annotate: bool = False,
        help_anywhere_in_window: bool = True,
        for_reading: bool = True,
    ) -> None:
        super().__init__(parent)
        self.can_annotate = can_annotate
        # A clinician reads with the window's numbers and the corner overlays; a patient
        # looks at a picture.
        self.for_reading = for_reading
        # F1 works wherever the focus is in the window (a film opened from a list keeps the
        # focus in the list); a window with two viewers gives it to one of them.
        self._help_anywhere = help_anywhere_in_window
        self.viewer = XRayViewer(self)
        self.view_bar = QToolBar("View", self)
        self.window_bar = QToolBar("Window", self)
        self.tool_bar = QToolBar("Tools", self)
        self.zoom_label = QLabel("—", self)
        self.preset_combo = QComboBox(self)
        self.preset_combo.setToolTip("Window presets from the file and computed ones")
        self.preset_combo.setAccessibleName("Window presets")
        self.center_spin = self._spin("Level (window center)")
        self.center_spin.setAccessibleName("Window level")
        self.width_spin = self._spin("Window width")
        self.width_spin.setAccessibleName("Window width")
        self.progress = QProgressBar(self)
        self.progress.setVisible(False)
        self.progress.setMaximumHeight(14)
        self.message = QLabel("", self)
        self.message.setWordWrap(True)
        self.message.setVisible(False)
        self.actions_by_key: dict[str, QAction] = {}
        self.presets: list[WindowPreset] = []
        self._build_actions()
        self.magnifier = Magnifier(self.viewer)
        self.help_overlay = QLabel(self.viewer.viewport())
        self.help_overlay.setStyleSheet(
            "background: rgba(0, 0, 0, 200); color: white; padding: 12px; border-radius: 6px;"
        )
        self.help_overlay.setText(self.help_text())
        self.help_overlay.adjustSize()
        self.help_overlay.move(12, 12)
        self.help_overlay.setVisible(False)
        self.help_overlay.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.view_bar)
        layout.addWidget(self.window_bar)
        layout.addWidget(self.tool_bar)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addWidget(self.viewer, 1)
        viewer = self.viewer
        viewer.zoom_changed.connect(self._show_zoom)
        viewer.window_changed.connect(self._show_window)
        viewer.cursor_moved.connect(self.magnifier.follow)
        viewer.text_requested.connect(self._ask_text)
        viewer.calibration_requested.connect(self._ask_calibration)
        viewer.annotations_changed.connect(self.annotations_edited)
        self.preset_combo.activated.connect(self._apply_preset)
        self.center_spin.editingFinished.connect(self._apply_numbers)
        self.width_spin.editingFinished.connect(self._apply_numbers)
        self.overlays = CornerOverlays(viewer)
        viewer.resized.connect(self.overlays.place)
        self._update_actions()

    def _spin(self, tip: str) -> QDoubleSpinBox:
        spin = QDoubleSpinBox(self)
        spin.setMaximumWidth(90)
        spin.setRange(-1e6, 1e6)
        spin.setDecimals(1)
        spin.setToolTip(tip)
        spin.setKeyboardTracking(False)
        return spin

    # --- actions ------------------------------------------------------------------------

    def _action(
        self, bar: QToolBar, spec: ToolSpec, slot: Callable[[], None], checkable: bool = False
    ) -> QAction:
        action = QAction(spec.text, self)
        action.setShortcut(QKeySequence(spec.shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.setToolTip(f"{spec.tip} ({QKeySequence(spec.shortcut).toString()})")
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        bar.addAction(action)
        self.addAction(action)
        self.actions_by_key[spec.key] = action
        return action

    def _build_actions(self) -> None:
        viewer, view, window_bar, tools = self.viewer, self.view_bar, self.window_bar, self.tool_bar
        for key, slot in (
            ("fit", viewer.fit_to_window),
            ("actual", viewer.actual_size),
            ("zoom_in", lambda: viewer.zoom_by(WHEEL_STEP)),
            ("zoom_out", lambda: viewer.zoom_by(1 / WHEEL_STEP)),
        ):
            self._action(view, VIEW[key], slot)
        view.addWidget(self.zoom_label)
        view.addSeparator()
        window_bar.addWidget(self.preset_combo)
        if self.for_reading:
            window_bar.addWidget(QLabel(" L ", self))
            window_bar.addWidget(self.center_spin)
            window_bar.addWidget(QLabel(" W ", self))
            window_bar.addWidget(self.width_spin)
        else:
            self.center_spin.setVisible(False)
            self.width_spin.setVisible(False)
        self._action(window_bar, WINDOW["auto"], viewer.auto_window)
        for key, slot in (
            ("rotate_left", lambda: viewer.rotate_by(-90)),
            ("rotate_right", lambda: viewer.rotate_by(90)),
            ("flip_h", viewer.flip_horizontally),
            ("flip_v", viewer.flip_vertically),
            ("reset", self._reset),
        ):
            self._action(view, VIEW[key], slot)
        self._action(window_bar, WINDOW["invert"], self._toggle_invert, checkable=True)
        group = QActionGroup(self)
        for tool, spec in MARK_TOOLS.items():
            group.addAction(
                self._action(tools, spec, partial(viewer.set_tool, tool), checkable=True)
            )
        self.actions_by_key["navigate"].setChecked(True)
        cancel = QAction(self)
        cancel.setShortcut(QKeySequence("Esc"))
        cancel.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        cancel.triggered.connect(lambda: self.actions_by_key["navigate"].trigger())
        self.addAction(cancel)
        self._action(tools, OTHER["delete"], viewer.delete_selected)
        # The drawing tools' row is the longest: the others go on the window's row.
        window_bar.addSeparator()
        self._action(window_bar, OTHER["magnifier"], self._toggle_magnifier, checkable=True)
        self._action(window_bar, OTHER["export"], self.choose_export)
        help_action = self._action(window_bar, OTHER["help"], self._toggle_help, checkable=True)
        if self._help_anywhere:
            help_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)

    def set_can_annotate(self, can_annotate: bool) -> None:
        """Marks are drawn only while the result is not signed (then they are the patient's)."""
        self.can_annotate = can_annotate
        self._update_actions()

    def _update_actions(self) -> None:
        has_image = self.viewer.has_image
        for key, action in self.actions_by_key.items():
            editing = key in EDITING
            enabled = has_image and (self.can_annotate or not editing)
            if key == "calibrate":
                enabled = enabled and self.viewer.spacing is None
            action.setEnabled(enabled or key == "help")
            # Patients read the marks; the tools to draw them are not theirs.
            action.setVisible(self.can_annotate or not editing)
        for widget in (self.preset_combo, self.center_spin, self.width_spin):
            widget.setEnabled(has_image)

    def help_text(self) -> str:
        """The shortcuts of the tools this user has (a patient's help lists no drawing tools)."""
        return help_html(
            [
                (action.shortcut().toString(), action.toolTip().rsplit(" (", 1)[0])
                for key, action in self.actions_by_key.items()
                if self.can_annotate or key not in EDITING
            ]
        )

    # --- image and window ---------------------------------------------------------------

    def show_image(self, image: DisplayImage, title: str = "") -> None:
        """Show `image`; `title` (the patient, the film) heads the reading overlays."""
        self.progress.setVisible(False)
        self.message.setVisible(False)
        viewer = self.viewer
        metadata = image.metadata
        self._describe(image, title)
        self.presets = list(metadata.window_presets) if metadata is not None else []
        self.preset_combo.clear()
        self.preset_combo.addItem("Presets…")
        for preset in self.presets:
            self.preset_combo.addItem(f"{preset.name} ({preset.center:g}/{preset.width:g})")
        viewer.set_image(image)
        self.actions_by_key["invert"].setChecked(viewer.inverted)
        self.actions_by_key["navigate"].trigger()
        self._update_actions()

    def set_annotations(self, annotations: list[Annotation], calibration: float | None) -> None:
        self.viewer.set_annotations(annotations, calibration)

    def _apply_preset(self, index: int) -> None:
        if 1 <= index <= len(self.presets):
            preset = self.presets[index - 1]
            self.viewer.set_window(Window(preset.center, preset.width))

    def _apply_numbers(self) -> None:
        if self.viewer.has_image and self.width_spin.value() > 0:
            self.viewer.set_window(Window(self.center_spin.value(), self.width_spin.value()))

    def _show_window(self, center: float, width: float) -> None:
        for spin, value in ((self.center_spin, center), (self.width_spin, width)):
            spin.blockSignals(True)
            spin.setValue(value)
            spin.blockSignals(False)
        self.overlays.set_text("bottom_left", f"W {width:.0f}  L {center:.0f}")

    def _describe(self, image: DisplayImage, title: str) -> None:
        """The overlays' who, when and what, from the film's metadata."""
        metadata = image.metadata
        height, width = image.stored.shape[:2]
        facts = [
            value
            for value in (
                metadata.modality if metadata else None,
                metadata.body_part if metadata else None,
                f"{width}×{height}",
            )
            if value
        ]
        study = f"Study {metadata.study_date}" if metadata and metadata.study_date else ""
        self.overlays.set_text("top_left", "\n".join(line for line in (title, study) if line))
        self.overlays.set_text("top_right", " · ".join(facts))
        self.overlays.set_visible(self.for_reading)

    def _toggle_invert(self) -> None:
        self.viewer.set_inverted(self.actions_by_key["invert"].isChecked())

    def _reset(self) -> None:
        self.viewer.reset()
        self.actions_by_key["invert"].setChecked(self.viewer.inverted)

    def _show_zoom(self, zoom: float) -> None:
        self.zoom_label.setText(f" {zoom * 100:.0f}% " if self.viewer.has_image else " — ")
        self.overlays.set_text("bottom_right", f"Zoom {zoom * 100:.0f}%")

    # --- magnifier, help, export ------------------------------------------------------------

    def _toggle_magnifier(self) -> None:
        self.magnifier.setVisible(self.actions_by_key["magnifier"].isChecked())

    def magnifier_pixmap(self) -> QPixmap:
        return self.magnifier.pixmap()

    def _toggle_help(self) -> None:
        self.help_overlay.setVisible(self.actions_by_key["help"].isChecked())
        self.help_overlay.raise_()

    def choose_export(self) -> None:
        dialog = QFileDialog(self, "Export the view as PNG", "xray.png", "PNG images (*.png)")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix("png")
        dialog.fileSelected.connect(lambda name: self.export_to(Path(name)))
        dialog.open()

    def export_to(self, path: Path) -> bool:
        if path.suffix.lower() != ".png":
            path = path.with_name(path.name + ".png")
        return bool(self.viewer.export_view().save(str(path)))

    # --- text and calibration -----------------------------------------------------------

    def _ask_text(self, point: QPointF) -> None:
        dialog = QInputDialog(self)
        dialog.setObjectName("text-label")
        dialog.setWindowTitle("Text label")
        dialog.setLabelText("Text to show at this point:")
        dialog.textValueSelected.connect(lambda text: self._add_text(point, text))
        dialog.open()

    def _add_text(self, point: QPointF, text: str) -> None:
        if text.strip():
            label = text.strip()[:500]
            self.viewer.add_annotation(
                Annotation(kind="text", points=[[point.x(), point.y()]], label=label)
            )

    def _ask_calibration(self, length_px: float) -> None:
        dialog = QInputDialog(self)
        dialog.setObjectName("calibration")
        dialog.setWindowTitle("Calibrate")
        dialog.setInputMode(QInputDialog.InputMode.DoubleInput)
        dialog.setDoubleRange(0.01, 10000)
        dialog.setDoubleDecimals(2)
        dialog.setLabelText(f"The line is {length_px:.1f} pixels long. Its true length in mm:")
        dialog.doubleValueSelected.connect(
            lambda millimetres: self.viewer.set_calibration(millimetres / length_px)
        )
        dialog.open()

    # --- loading states -----------------------------------------------------------------

    def show_loading(self, done: int, total: int) -> None:
        self.message.setVisible(False)
        self.progress.setVisible(True)
        self.progress.setRange(0, total or 0)
        self.progress.setValue(done)

    def show_message(self, text: str) -> None:
        self.progress.setVisible(False)
        self.message.setText(text)
        self.message.setVisible(True)

    def clear(self) -> None:
        self.progress.setVisible(False)
        self.message.setVisible(False)
        self.viewer.clear()
        self.overlays.set_visible(False)
        self.presets = []
        self.preset_combo.clear()
        self._update_actions()
