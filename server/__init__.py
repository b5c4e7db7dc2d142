"""The medsys HTTP API server (aiohttp)."""
