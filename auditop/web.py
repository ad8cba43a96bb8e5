"""`auditop web`: the TUI in a browser, served by textual-serve.

textual-serve runs the command once per browser tab, in a child process
that talks to the page over a websocket. This module only quiets it (no
logo, no log line per request: auditop prints one line with the URL) and
makes Ctrl-C end every child it started, also one a browser left open.
"""

from __future__ import annotations

import asyncio
import logging
import signal

import textual_serve.server
from aiohttp import web as aiohttp_web
from textual_serve.app_service import AppService
from textual_serve.server import Server

STOP_GRACE = 3.0  # seconds a child has to quit before it is killed


class _Service(AppService):
    """An AppService that is known while its child runs."""

    running: set[_Service] = set()

    async def start(self, width: int, height: int) -> None:
        _Service.running.add(self)
        await super().start(width, height)

    async def stop(self) -> None:
        try:
            await super().stop()
        finally:
            _Service.running.discard(self)


textual_serve.server.AppService = _Service  # the server makes one per browser tab


class _Server(Server):
    def __init__(self, *args, banner: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.banner = banner

    def initialize_logging(self) -> None:
        logging.basicConfig(level=logging.WARNING, format="auditop web: %(message)s")

    async def on_startup(self, app: aiohttp_web.Application) -> None:
        pass  # no logo: the banner is printed once the socket listens

    async def on_shutdown(self, app: aiohttp_web.Application) -> None:
        """Ctrl-C: every auditop a browser still shows is asked to quit,
        then killed if it has not."""
        for service in list(_Service.running):
            process = service._process
            if process is None or process.returncode is not None:
                continue
            await service.send_meta({"type": "quit"})
            try:
                await asyncio.wait_for(process.wait(), STOP_GRACE)
            except asyncio.TimeoutError:
                process.kill()
                await process.wait()


def serve(command: str, *, host: str, port: int, public_url: str, banner: str) -> int:
    """Serve until Ctrl-C (or SIGTERM); 0 when stopped so. An address in
    use or not available is an OSError, which the caller says in one line."""
    server = _Server(command, host=host, port=port, title="auditop", public_url=public_url,
                     banner=banner)
    server.initialize_logging()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, server.request_exit)
    try:
        aiohttp_web.run_app(server._make_app(), host=host, port=port, handle_signals=False,
                            loop=loop, access_log=None,
                            print=lambda *args: print(server.banner, flush=True))
    finally:
        loop.close()
    return 0
