"""Wire models of the medsys HTTP API, shared by the server and the desktop client.

Pure data: no Qt, no SQLAlchemy. Request models are strict (a wrongly typed field is a 422,
never silently coerced); response models are lenient so clients ignore fields they do not know.
"""
