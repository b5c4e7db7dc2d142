"""Running the app until SIGINT or SIGTERM, announcing the address it really listens on."""

import asyncio
import signal

from aiohttp import web


async def serve_until_stopped(app: web.Application, host: str, port: int) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        # With --port 0 the system picks the port; print the one it picked (tests read this).
        bound_host, bound_port = runner.addresses[0][:2]
        print(f"medsys is serving on http://{bound_host}:{bound_port}", flush=True)
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopped.set)
        await stopped.wait()
    finally:
        await runner.cleanup()
