"""The medsys desktop client (PySide6)."""
