"""`auditop web`: the TUI in a browser, served by textual-serve.

textual-serve runs the command once per browser tab, in a child process
that talks to the page over a websocket. This module configures it to be
safe to leave running for a class:

- each child is `python -m auditop.web_child` (auditop/web_child.py): it dies
  with the server (PR_SET_PDEATHSIG) and when its pipes close; the server
  asks it to quit when its websocket closes and kills it if it has not
  within STOP_GRACE; Ctrl-C, SIGTERM and SIGHUP stop every child.
- a websocket whose Origin is not one of the served origins is refused
  (403): another web site cannot start processes here.
- at most `max_sessions` children at a time; one more browser gets a page
  (or, raced, a closed session) saying so.
- off loopback the view is under a random access token in the URL
  (http://HOST:PORT/TOKEN/); any other path is 403.
- the page is ours: a title, fonts from textual-serve's package (no request
  leaves the server), URLs relative to where the page was loaded (never
  ws://0.0.0.0).
"""

from __future__ import annotations

import asyncio
import fcntl
import hmac
import html
import ipaddress
import json
import logging
import os
import secrets
import shlex
import signal
import socket
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import textual_serve
from aiohttp import WSMsgType
from aiohttp import web as aiohttp_web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from auditop.core.text import url_host

STOP_GRACE = 2.0  # seconds a child has to quit before it is killed
# Each session is one auditop process: about 45 MB and, while the demo draws,
# a good part of a core. 30 fit a classroom on an ordinary laptop; more is
# a machine being taken down, not a class (--max-sessions says otherwise).
DEFAULT_MAX_SESSIONS = 30
STATIC = Path(textual_serve.__file__).resolve().parent / "static"
SHUTDOWN_TIMEOUT = 5.0  # seconds aiohttp waits for handlers once the children are gone
log = logging.getLogger("auditop.web")


# -- where it is served ---------------------------------------------------------

def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return host == ""


def interface_addresses(ipv6: bool) -> list[str]:
    """This machine's addresses: IPv4 of each interface (SIOCGIFADDR), and
    with `ipv6` the global IPv6 ones (/proc/net/if_inet6). Loopback last."""
    found: list[str] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _, name in socket.if_nameindex():
            try:
                packed = fcntl.ioctl(sock.fileno(), 0x8915,  # SIOCGIFADDR
                                     struct.pack("256s", name.encode()[:15]))
            except OSError:
                continue  # no IPv4 address on it
            found.append(socket.inet_ntoa(packed[20:24]))
    if ipv6:
        try:
            rows = Path("/proc/net/if_inet6").read_text().splitlines()
        except OSError:
            rows = []
        for row in rows:
            fields = row.split()
            if len(fields) >= 4 and fields[3] in ("00", "0"):  # global scope only
                found.append(str(ipaddress.IPv6Address(bytes.fromhex(fields[0]))))
    unique = list(dict.fromkeys(found))
    return sorted(unique, key=is_loopback)


def origin_of(url: str) -> str | None:
    """"http://host:port" of a URL, the default port left out (as browsers
    send Origin); None when it is not an http(s) URL with a host."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    host = url_host(parts.hostname.lower())
    return f"{parts.scheme}://{host}" + ("" if port in (None, default) else f":{port}")


@dataclass
class Addresses:
    """The URLs to print (first: the one to use), the origins a websocket
    may come from, and the token every path is under ("" for none)."""
    urls: list[str]
    origins: set[str]
    token: str
    open_to_network: bool


def addresses(host: str, port: int, public_url: str | None, token: bool | None) -> Addresses:
    """`token`: None chooses (a token off loopback, none on it)."""
    open_to_network = not is_loopback(host)
    use_token = open_to_network if token is None else token
    secret = secrets.token_urlsafe(12) if use_token else ""
    if public_url is not None and is_unspecified(urlsplit(public_url).hostname or ""):
        public_url = None  # http://0.0.0.0:PORT is no one's URL
    if is_unspecified(host):
        hosts = interface_addresses(ipv6=":" in host)
        remote = [h for h in hosts if not is_loopback(h)]
        hosts = remote or hosts or ["127.0.0.1"]
    else:
        hosts = [host]
    bases = [f"http://{url_host(h)}:{port}" for h in hosts]
    if public_url is not None:
        bases.insert(0, public_url.rstrip("/"))
    origins = {origin for base in bases if (origin := origin_of(base))}
    if is_loopback(host) or is_unspecified(host):  # a browser on this machine, by any name
        origins |= {f"http://127.0.0.1:{port}", f"http://localhost:{port}",
                    f"http://[::1]:{port}"}
    if is_unspecified(host):
        for name in {socket.gethostname(), socket.getfqdn()}:
            origins.add(f"http://{name.lower()}:{port}")
    urls = [f"{base}/{secret}/" if secret else base for base in bases]
    return Addresses(urls=list(dict.fromkeys(urls)), origins=origins, token=secret,
                     open_to_network=open_to_network)


def title_of(argv: list[str]) -> str:
    """The page's title, from the auditop command a tab gets."""
    if "--demo" in argv:
        return "auditop — demo"
    if "replay" in argv:
        return f"auditop — replay of {Path(argv[argv.index('replay') + 1]).name}"
    return "auditop — live, read-only"


# -- one browser tab: one child ---------------------------------------------------

class _Service(AppService):
    """A child run as auditop.web_child (no shell), stopped for sure."""

    def __init__(self, argv: list[str], websocket: aiohttp_web.WebSocketResponse,
                 **kwargs) -> None:
        super().__init__(shlex.join(argv), write_bytes=websocket.send_bytes,
                         write_str=websocket.send_str, close=websocket.close, **kwargs)
        self.argv = argv
        self.websocket = websocket
        self._stopping: asyncio.Task | None = None

    async def _open_app_process(self, width: int = 80, height: int = 24):
        environment = self._build_environment(width=width, height=height)
        self._process = process = await asyncio.create_subprocess_exec(
            *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=environment)
        self._stdin = process.stdin
        return process

    async def stop(self) -> None:
        """Ask the child to quit; kill it if it has not within STOP_GRACE
        (a quit that arrives while the app starts is lost, and its SIGTERM
        goes the same way). Called more than once, it stops once."""
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop())
        await asyncio.shield(self._stopping)

    async def _stop(self) -> None:
        process = self._process
        if process is not None and process.returncode is None:
            if self._stdin is not None and not self._stdin.is_closing():
                await self.send_meta({"type": "quit"})
            try:
                await asyncio.wait_for(process.wait(), STOP_GRACE)
            except asyncio.TimeoutError:
                process.kill()
                await process.wait()
        if self._stdin is not None:
            self._stdin.close()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, STOP_GRACE)
            except asyncio.TimeoutError:
                pass  # wait_for cancelled it
            self._task = None

    async def send_meta(self, data) -> bool:
        try:
            return await super().send_meta(data)
        except (AssertionError, OSError):
            return False


# -- the server --------------------------------------------------------------------

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="icon" href="data:,">
<link rel="preload" href="static/fonts/RobotoMono-VariableFont_wght.ttf" as="font" type="font/ttf" crossorigin>
<link rel="stylesheet" href="static/css/xterm.css">
<style>
@font-face {{ font-family: "Roboto Mono"; font-style: normal; font-weight: 100 700;
  src: url("static/fonts/RobotoMono-VariableFont_wght.ttf") format("truetype"); }}
@font-face {{ font-family: "Roboto Mono"; font-style: italic; font-weight: 100 700;
  src: url("static/fonts/RobotoMono-Italic-VariableFont_wght.ttf") format("truetype"); }}
body {{ background: #0c181f; margin: 0; font-family: "Roboto Mono", monospace; }}
.dialog {{ position: absolute; inset: 0; display: flex; align-items: center;
  justify-content: center; z-index: 10; background: #0c181f; }}
.box {{ max-width: 40em; padding: 2em; background: #12232d; color: rgba(255,255,255,.95);
  text-align: center; line-height: 1.5; }}
button {{ padding: 1em 2em; margin-top: 1em; background: #5e0ba7; color: #fff; border: none;
  font-family: inherit; cursor: pointer; }}
button:hover {{ background: #ac5af4; }}
body.-first-byte .starting, .closed {{ display: none; }}
body.-closed .closed {{ display: flex; }}
.textual-terminal {{ opacity: 0; }}
body.-first-byte .textual-terminal {{ opacity: 1; }}
</style>
<script src="static/js/textual.js"></script>
<script>
// The websocket is where this page came from (never ws://0.0.0.0), and the
// reason the server gives for closing a session is shown, not just "ended".
(() => {{
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {{
    constructor(...args) {{
      super(...args);
      this.addEventListener("close", (event) => {{
        if (event.reason) document.getElementById("why").textContent = event.reason;
      }});
    }}
  }};
  const start = window.onload;  // textual.js starts the terminal on load:
  window.onload = (event) => {{  // once the packaged font is there to measure
    const go = () => start(event);
    document.fonts.load("16px 'Roboto Mono'").then(go, go);
  }};
}})();
</script>
</head>
<body>
<div class="dialog starting"><div class="box">{title}: starting…</div></div>
<div class="dialog closed"><div class="box"><div id="why">Session ended.</div>
<button type="button" onclick="location.reload()">Restart</button></div></div>
<div id="terminal" class="textual-terminal" data-font-size="{font_size}"></div>
<script>
document.getElementById("terminal").dataset.sessionWebsocketUrl =
  (location.protocol === "https:" ? "wss:" : "ws:") + "//" + location.host +
  location.pathname.replace(/[^/]*$/, "") + "ws";
</script>
</body>
</html>
"""

NOTICE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<link rel="icon" href="data:,">
<style>body {{ background: #0c181f; color: rgba(255,255,255,.95); font-family: monospace;
display: flex; align-items: center; justify-content: center; height: 100vh; margin: 0; }}
div {{ max-width: 40em; padding: 2em; background: #12232d; line-height: 1.5; }}</style>
</head><body><div>{message}</div></body></html>
"""


def notice(status: int, title: str, message: str) -> aiohttp_web.Response:
    return aiohttp_web.Response(status=status, content_type="text/html",
                                text=NOTICE.format(title=html.escape(title),
                                                   message=html.escape(message)))


@dataclass
class _Sessions:
    limit: int
    running: set[_Service] = field(default_factory=set)
    starting: int = 0

    def full(self) -> bool:
        return len(self.running) + self.starting >= self.limit

    def busy_text(self) -> str:
        taken = f"All {self.limit} sessions are" if self.limit > 1 else "The one session is"
        return f"{taken} in use: close another tab, then Restart."


class _Server(Server):
    def __init__(self, argv: list[str], *, host: str, port: int, where: Addresses,
                 max_sessions: int, banner: str) -> None:
        super().__init__(shlex.join(argv), host=host, port=port, title=title_of(argv),
                         public_url=where.urls[0])
        self.argv = argv
        self.where = where
        self.sessions = _Sessions(max_sessions)
        self.banner = banner
        self.prefix = f"/{where.token}" if where.token else ""

    def initialize_logging(self) -> None:
        logging.basicConfig(level=logging.WARNING, format="auditop web: %(message)s")

    async def _make_app(self) -> aiohttp_web.Application:
        app = aiohttp_web.Application(middlewares=[self.require_token])
        prefix = self.prefix
        if prefix:
            app.router.add_get(prefix, self.to_index)
        app.router.add_get(f"{prefix}/", self.handle_index)
        app.router.add_get(f"{prefix}/ws", self.handle_websocket)
        app.router.add_static(f"{prefix}/static", STATIC)
        app.on_shutdown.append(self.on_shutdown)
        return app

    @aiohttp_web.middleware
    async def require_token(self, request: aiohttp_web.Request, handler):
        """With a token, every path but those under /TOKEN/ is 403 (also
        the ones that do not exist: nothing to learn without it)."""
        if self.prefix:
            given = request.path.split("/", 2)[1].encode("utf-8", "replace")
            if not hmac.compare_digest(given, self.where.token.encode()):
                return notice(403, "auditop — forbidden",
                              "This auditop view needs its access token: open the URL "
                              "printed where `auditop web` runs.")
        return await handler(request)

    async def to_index(self, request: aiohttp_web.Request) -> aiohttp_web.Response:
        raise aiohttp_web.HTTPFound(self.prefix + "/")

    async def handle_index(self, request: aiohttp_web.Request) -> aiohttp_web.Response:
        if self.sessions.full():
            return notice(503, self.title, self.sessions.busy_text())
        font_size = max(6, min(64, to_int(request.query.get("fontsize", "16"), 16)))
        return aiohttp_web.Response(content_type="text/html", text=PAGE.format(
            title=html.escape(self.title), font_size=font_size),
            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})

    async def handle_websocket(self, request: aiohttp_web.Request):
        origin = request.headers.get("Origin", "")
        if origin.lower() not in self.where.origins:
            log.warning("refused a session from %s (not a page of this server)",
                        origin[:100] or "a client that sent no Origin")
            return aiohttp_web.Response(status=403, text="auditop web: refused: this "
                                        "page's origin is not the server's\n")
        websocket = aiohttp_web.WebSocketResponse(heartbeat=15)
        await websocket.prepare(request)
        if self.sessions.full():
            await websocket.close(code=1013, message=self.sessions.busy_text().encode())
            return websocket
        width = max(1, min(1000, to_int(request.query.get("width", "80"), 80)))
        height = max(1, min(1000, to_int(request.query.get("height", "24"), 24)))
        service = _Service(self.argv, websocket, download_manager=self.download_manager)
        self.sessions.starting += 1
        try:
            try:
                await service.start(width, height)
            finally:
                self.sessions.starting -= 1
            self.sessions.running.add(service)
            await self._process_messages(websocket, service)
        except asyncio.CancelledError:
            pass
        except Exception as error:  # noqa: BLE001 - one line in the log, never a traceback
            log.warning("a session failed: %s", error)
        finally:
            await service.stop()
            self.sessions.running.discard(service)
            if not websocket.closed:
                await websocket.close()
        return websocket

    async def _process_messages(self, websocket, app_service) -> None:
        """textual-serve's, minus the traceback for a malformed message."""
        async for message in websocket:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                kind, data = json.loads(message.data)
                if kind == "stdin":
                    await app_service.send_bytes(str(data).encode("utf-8"))
                elif kind == "resize":
                    await app_service.set_terminal_size(int(data["width"]),
                                                        int(data["height"]))
                elif kind == "ping":
                    await websocket.send_json(["pong", data])
                elif kind == "blur":
                    await app_service.blur()
                elif kind == "focus":
                    await app_service.focus()
            except (ValueError, TypeError, KeyError):
                continue

    async def on_shutdown(self, app: aiohttp_web.Application) -> None:
        """The server stops: every child at once is asked to quit, killed if
        it has not, and its page told why."""
        services = list(self.sessions.running)
        await asyncio.gather(*(service.stop() for service in services),
                             return_exceptions=True)
        await asyncio.gather(*(service.websocket.close(code=1001, message=b"auditop web "
                                                       b"stopped.")
                               for service in services), return_exceptions=True)


def serve(command: str | list[str], *, host: str, port: int, public_url: str | None = None,
          banner: str | None = None, what: str | None = None,
          max_sessions: int = DEFAULT_MAX_SESSIONS, token: bool | None = None) -> int:
    """Serve until Ctrl-C, SIGTERM or SIGHUP; 0 when stopped so. An address
    in use or not available is an OSError, which the caller says in one line.

    `command`: the auditop command line a tab gets (`python -m auditop ...`,
    a list, or a string as textual-serve takes it, "exec " allowed).
    `what` ("the demo"): said in the banner; for callers that still pass a
    whole `banner`, its URL is replaced by the one to use. `token`: None
    puts the view under a token off loopback only."""
    argv = shlex.split(command.removeprefix("exec ")) if isinstance(command, str) else command
    if argv[1:3] != ["-m", "auditop"]:
        raise ValueError(f"not an auditop command: {shlex.join(argv)}")
    child = [argv[0], "-m", "auditop.web_child", str(os.getpid()), *argv[3:]]
    where = addresses(host, port, public_url, token)
    if what is not None:
        first = f"auditop web: serving {what} on {where.urls[0]} (Ctrl-C stops)"
    elif banner is not None and " on " in banner and " (" in banner:
        said, _, rest = banner.partition(" on ")
        first = f"{said} on {where.urls[0]} ({rest.rsplit(' (', 1)[1]}"
    else:
        first = f"auditop web: serving on {where.urls[0]}"
    lines = [first] + [f"auditop web: also on {url}" for url in where.urls[1:]]
    server = _Server(child, host=host, port=port, where=where, max_sessions=max_sessions,
                     banner="\n".join(lines))
    server.initialize_logging()

    def started(*_args) -> None:
        print(server.banner, flush=True)
        if where.open_to_network:
            guard = ("only the URLs above, with their token, get in" if where.token else
                     "without a token (--no-token): anyone who can reach it can watch")
            print(f"auditop web: warning: listening on {url_host(host)}:{port}, open to the "
                  f"network; {guard}", file=sys.stderr, flush=True)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, server.request_exit)
    try:
        aiohttp_web.run_app(server._make_app(), host=host, port=port, handle_signals=False,
                            loop=loop, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT,
                            print=started)
    finally:
        loop.close()
    return 0
