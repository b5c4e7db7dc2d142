"""X-rays in the desktop: the gallery (`model`), the viewer with the result (`detail`) and
the upload queue (`upload`)."""
