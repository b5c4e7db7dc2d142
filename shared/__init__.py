"""Wire models of the medsys HTTP API, shared by the server and the desktop client, and the
image decoding both must do identically (`imaging`, `metadata`: numpy, Pillow, pydicom).

No Qt and no SQLAlchemy here. Request models are strict (a wrongly typed field is a 422,
never silently coerced); response models are lenient so clients ignore fields they do not know.
"""
