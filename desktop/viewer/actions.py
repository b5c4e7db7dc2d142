"""Every tool of the viewer, with its shortcut and what it does: one table, read by the
toolbars, the tooltips and the help overlay (F1), so they cannot disagree."""

from dataclasses import dataclass
from html import escape

from desktop.viewer.marks import Tool


@dataclass(frozen=True, slots=True)
class ToolSpec:
    key: str
    text: str
    shortcut: str
    tip: str


def _specs(*specs: ToolSpec) -> dict[str, ToolSpec]:
    return {spec.key: spec for spec in specs}


VIEW = _specs(
    ToolSpec("fit", "Fit", "F", "Fit the image to the window"),
    ToolSpec("actual", "1:1", "1", "One image pixel per screen pixel"),
    ToolSpec("zoom_in", "+", "+", "Zoom in"),
    ToolSpec("zoom_out", "−", "-", "Zoom out"),
    ToolSpec("rotate_left", "⟲", "Shift+R", "Rotate 90° to the left"),
    ToolSpec("rotate_right", "⟳", "R", "Rotate 90° to the right"),
    ToolSpec("flip_h", "⇋", "H", "Flip horizontally"),
    ToolSpec("flip_v", "⇵", "V", "Flip vertically"),
    ToolSpec("reset", "Reset", "0", "Back to the first view"),
)
WINDOW = _specs(
    ToolSpec("auto", "Auto", "A", "Automatic window/level"),
    ToolSpec("invert", "Invert", "I", "Invert the greys"),
)
# The tools that place marks, in their toolbar's order.
MARK_TOOLS = {
    Tool.navigate: ToolSpec("navigate", "Pan", "N", "Drag to pan; Esc cancels a measurement"),
    Tool.line: ToolSpec("line", "Distance", "D", "Measure a distance: click both ends"),
    Tool.angle: ToolSpec("angle", "Angle", "G", "Measure an angle: click arm, vertex, arm"),
    Tool.arrow: ToolSpec("arrow", "Arrow", "W", "Draw an arrow: click tail, then head"),
    Tool.text: ToolSpec("text", "Text", "T", "Place a text label"),
    Tool.calibrate: ToolSpec(
        "calibrate", "Calibrate", "C", "Draw a line of known length (images without pixel spacing)"
    ),
}
OTHER = _specs(
    ToolSpec("delete", "Delete", "Del", "Delete the selected mark"),
    ToolSpec("magnifier", "Magnifier", "M", "A magnifying glass under the cursor"),
    ToolSpec("export", "Export…", "Ctrl+E", "Save the current view as a PNG"),
    ToolSpec("help", "Help", "F1", "Show the shortcuts"),
)
# Keys of the tools that change marks: hidden from those who only read them.
EDITING = frozenset({"line", "angle", "arrow", "text", "calibrate", "delete"})

GESTURES = (
    ("Wheel", "Zoom under the mouse"),
    ("Left drag", "Pan (with Pan), or place points"),
    ("Right drag", "Window: right/left = width, down/up = level"),
    ("Esc", "Back to Pan, cancel a measurement"),
)


def help_html(shortcuts: list[tuple[str, str]]) -> str:
    """The help overlay: the mouse gestures, then (shortcut, what it does) of every action."""
    rows = "".join(
        f"<tr><td><b>{escape(keys)}</b></td><td>&nbsp;{escape(what)}</td></tr>"
        for keys, what in [*GESTURES, *shortcuts]
    )
    return f"<h3>Viewer shortcuts</h3><table>{rows}</table>"
