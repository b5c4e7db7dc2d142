"""The radiograph viewer: `view` (the zoomable, windowed image), `marks` (measurements and
their tools), `image` (what is shown), `panel` (the viewer with its toolbars), `actions` (every
tool with its shortcut) and `magnifier`."""
