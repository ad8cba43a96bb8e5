"""`auditop web` left running for a class (issue 17): no auditop outlives
its browser or the server, however either goes away; another web site
cannot start sessions; a cap on sessions; off loopback, the URLs other
machines can use, under an access token; a page that asks nothing of the
internet and has a title."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.web.browser import CHROMIUM, Browser

pytest.importorskip("textual_serve", reason="auditop web needs textual-serve "
                    "(pip install 'auditop[web]')")
import aiohttp  # noqa: E402 - textual-serve brings it

ROOT = Path(__file__).resolve().parents[2]
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed "
                                    "(apt-get install chromium)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def children(server_pid: int) -> list[int]:
    """Pids of the auditops a server started: their command line carries
    `auditop.web_child SERVER_PID` (so they are found after it is gone)."""
    marker = f"auditop.web_child\0{server_pid}\0".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def wait_until(condition, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


class Server:
    """`auditop web ARGS` (or, with `serve`, auditop.web.serve(**serve)
    called directly), in its own session; killed with its group at the end."""

    def __init__(self, *args: str, serve: dict | None = None) -> None:
        self.port = free_port()
        if serve is None:
            argv = [sys.executable, "-m", "auditop", "web", *args, "--port", str(self.port)]
        else:
            argv = [sys.executable, "-c", "import sys; from auditop.web import serve; "
                    f"sys.exit(serve(**{dict(serve, port=self.port)!r}))"]
        self.process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True,
                                        start_new_session=True)
        self.banner = self.process.stdout.readline().strip()
        assert self.banner, self.process.stderr.read()
        self.url = re.search(r"(http://\S+)", self.banner).group(1)
        self.origin = re.match(r"http://[^/]+", self.url).group(0)

    def pipes(self) -> int:
        fds = Path(f"/proc/{self.process.pid}/fd")
        return sum(1 for fd in fds.iterdir() if os.readlink(fd).startswith("pipe:"))

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        for pid in children(self.process.pid):  # left by a failure: not for the next test
            os.kill(pid, signal.SIGKILL)


def handshake(port: int, path: str = "/ws", origin: str | None = None) -> str:
    """A raw websocket handshake: the status line the server answers."""
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET {path}?width=80&height=24 HTTP/1.1", f"Host: 127.0.0.1:{port}",
             "Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
             "Sec-WebSocket-Version: 13"]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return sock.recv(4096).decode(errors="replace").split("\r\n")[0]


async def session(server: Server, drawn: bool = True):
    """A websocket session as the page opens one; with `drawn`, once the
    auditop behind it has drawn something."""
    client = aiohttp.ClientSession()
    ws_url = server.url.rstrip("/") + "/ws?width=100&height=30"
    ws = await client.ws_connect(ws_url, headers={"Origin": server.origin})
    await ws.send_str('["resize", {"width": 100, "height": 30}]')
    received = 0
    end = time.monotonic() + 30
    while drawn and received < 2000 and time.monotonic() < end:
        message = await ws.receive(timeout=30)
        assert message.type == aiohttp.WSMsgType.BINARY, message
        received += len(message.data)
    return client, ws


async def until(condition, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        await asyncio.sleep(0.1)
    return condition()


# -- no auditop outlives its browser or its server ----------------------------------

@needs_chromium
def test_a_browser_that_disappears_leaves_no_auditop():
    with Server("--demo") as server, Browser() as browser:
        text = browser.show(server.url, ["backlog", "findings"])
        assert "backlog" in text
        running = children(server.process.pid)
        assert len(running) == 1
        os.killpg(browser.process.pid, signal.SIGKILL)  # the laptop lid closes
        assert wait_until(lambda: not children(server.process.pid), 6.0), \
            f"still running: {running}"
        assert server.process.poll() is None  # the server itself carries on


def test_a_session_closed_while_its_auditop_starts_ends_it():
    """The measured spin: a 'quit' that reaches the app while it starts is
    lost (so is its SIGTERM); the server kills it after STOP_GRACE."""
    async def scenario(server: Server) -> None:
        client, ws = await session(server, drawn=False)
        assert await until(lambda: children(server.process.pid), 10.0)
        await ws.close()
        await client.close()
        assert await until(lambda: not children(server.process.pid), 6.0)

    with Server("--demo") as server:
        baseline = server.pipes()
        for _ in range(2):
            asyncio.run(scenario(server))
        # the server lets go of every child's pipes (its reaper closes them
        # just after the child is gone: a moment later on a loaded machine)
        deadline = time.monotonic() + 3.0
        while server.pipes() != baseline and time.monotonic() < deadline:
            time.sleep(0.1)
        assert server.pipes() == baseline


def test_a_child_that_does_not_quit_is_killed():
    """A child that cannot answer the quit (stopped here; in the field, a
    quit lost while the app started) is killed after STOP_GRACE."""
    async def scenario(server: Server) -> None:
        client, ws = await session(server)
        [pid] = children(server.process.pid)
        os.kill(pid, signal.SIGSTOP)
        await ws.close()
        await client.close()
        assert await until(lambda: not children(server.process.pid), 6.0)

    with Server("--demo") as server:
        asyncio.run(scenario(server))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP,
                                    signal.SIGKILL])
def test_the_server_ending_however_it_ends_leaves_no_auditop(signum):
    async def scenario(server: Server) -> None:
        sessions = [await session(server) for _ in range(2)]
        pids = children(server.process.pid)
        assert len(pids) == 2
        os.kill(server.process.pid, signum)  # the server only, not its group
        assert await until(lambda: not children(server.process.pid), 8.0), pids
        for client, ws in sessions:
            await client.close()

    with Server("--demo") as server:
        asyncio.run(scenario(server))
        code = server.process.wait(timeout=10)
        assert code == (-signal.SIGKILL if signum == signal.SIGKILL else 0)
        assert "Traceback" not in server.process.stderr.read()


def test_a_child_whose_server_is_gone_does_not_stay():
    """Its pipes closed and its parent gone before the prctl took effect:
    auditop.web_child leaves at once instead of running for nobody."""
    result = subprocess.run([sys.executable, "-m", "auditop.web_child", "1", "--demo"],
                            cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True,
                            timeout=30)
    assert result.returncode == 0 and result.stdout == b""


# -- who may start a session ---------------------------------------------------

def test_a_websocket_from_another_origin_is_refused():
    with Server("--demo") as server:
        assert handshake(server.port, origin="http://evil.example").split()[1] == "403"
        assert handshake(server.port, origin=f"http://evil.example:{server.port}"
                         ).split()[1] == "403"  # DNS rebinding: the port is right, not the name
        assert handshake(server.port).split()[1] == "403"  # no Origin: no browser page
        time.sleep(1.0)
        assert not children(server.process.pid)  # none of them started anything
        assert handshake(server.port, origin=server.origin).split()[1] == "101"
        assert handshake(server.port, origin=f"http://localhost:{server.port}"
                         ).split()[1] == "101"
    assert "refused a session from http://evil.example" in server.process.stderr.read()


def test_sessions_are_capped_with_a_page_that_says_so():
    async def scenario(server: Server) -> None:
        held = [await session(server) for _ in range(2)]
        async with aiohttp.ClientSession() as client:
            async with client.get(server.url) as page:
                assert page.status == 503
                assert "All 2 sessions are in use" in await page.text()
            ws = await client.ws_connect(server.url + "/ws",  # raced past the page
                                         headers={"Origin": server.origin})
            message = await ws.receive(timeout=10)
            assert message.type == aiohttp.WSMsgType.CLOSE and message.data == 1013
            assert message.extra.startswith("All 2 sessions are in use")
        assert len(children(server.process.pid)) == 2
        client, ws = held.pop()
        await ws.close()
        await client.close()
        assert await until(lambda: len(children(server.process.pid)) == 1, 6.0)
        async with aiohttp.ClientSession() as client:
            async with client.get(server.url) as page:
                assert page.status == 200  # a place is free again
        for client, ws in held:
            await client.close()

    with Server(serve={"command": f"{sys.executable} -m auditop --demo",
                       "host": "127.0.0.1", "what": "the demo", "max_sessions": 2}) as server:
        asyncio.run(scenario(server))


def test_the_max_sessions_option():
    from auditop.cli import _parser
    from auditop.web import DEFAULT_MAX_SESSIONS
    args = _parser().parse_args(["web", "--demo", "--max-sessions", "2", "--no-token"])
    assert args.max_sessions == 2 and args.token is False
    args = _parser().parse_args(["web", "--demo"])
    assert args.max_sessions == DEFAULT_MAX_SESSIONS and args.token is None
    result = subprocess.run([sys.executable, "-m", "auditop", "web", "--max-sessions", "0"],
                            cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and result.stderr.count("\n") == 1


# -- off loopback --------------------------------------------------------------------

def test_off_loopback_the_urls_are_usable_and_need_the_token():
    with Server("--demo", "--host", "0.0.0.0") as server:
        lines = [server.banner]
        assert "0.0.0.0" not in server.url  # an address of this machine
        host, token = re.fullmatch(r"http://([^/:]+):\d+/([\w-]{16,})/", server.url).groups()
        assert host in {a for a in _addresses()}, host
        warning = server.process.stderr.readline()
        assert "open to the network" in warning and "token" in warning
        base = f"http://127.0.0.1:{server.port}"
        for path in ("/", "/ws", "/static/js/textual.js", f"/{token[:-1]}/",
                     f"/{token}x/", "/favicon.ico"):
            status = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                     base + path], capture_output=True, text=True,
                                    timeout=10).stdout
            assert status == "403", (path, status)
        page = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", server.url],
                              capture_output=True, text=True, timeout=10).stdout
        assert page.endswith("\n200") and "<title>auditop — demo</title>" in page
        assert handshake(server.port, f"/{token}/ws", origin=server.origin
                         ).split()[1] == "101"
        assert handshake(server.port, "/ws", origin=server.origin).split()[1] == "403"
        lines += [line.strip() for line in _more_lines(server)]
        assert all("0.0.0.0" not in line for line in lines)


def test_off_loopback_without_a_token_when_told():
    with Server(serve={"command": f"{sys.executable} -m auditop --demo", "host": "0.0.0.0",
                       "what": "the demo", "token": False}) as server:
        assert re.fullmatch(r"http://[^/]+:\d+", server.url)
        assert "anyone who can reach it" in server.process.stderr.readline()
        assert handshake(server.port, "/ws", origin=server.origin).split()[1] == "101"


def test_the_public_url_is_checked():
    for bad in ("notaurl", "ftp://host/", "http://", "http://0.0.0.0:8000",
                "http://host:99999"):
        result = subprocess.run([sys.executable, "-m", "auditop", "web", "--demo",
                                 "--public-url", bad], cwd=ROOT, capture_output=True,
                                text=True, timeout=30)
        assert result.returncode == 2, bad
        assert result.stderr.count("\n") == 1 and "--public-url" in result.stderr, \
            result.stderr


def test_the_public_url_is_printed_and_its_origin_served():
    with Server("--demo", "--host", "0.0.0.0", "--public-url",
                "http://teacher-laptop:8000") as server:
        assert re.fullmatch(r"http://teacher-laptop:8000/[\w-]{16,}/", server.url)
        token = server.url.split("/")[3]
        assert handshake(server.port, f"/{token}/ws", origin="http://teacher-laptop:8000"
                         ).split()[1] == "101"


def _addresses() -> set[str]:
    from auditop.web import interface_addresses
    return set(interface_addresses(ipv6=False))


def _more_lines(server: Server) -> list[str]:
    """The banner's other lines ("also on URL"), already printed."""
    import selectors
    lines = []
    with selectors.DefaultSelector() as selector:
        selector.register(server.process.stdout, selectors.EVENT_READ)
        while selector.select(timeout=0.5):
            line = server.process.stdout.readline()
            if not line:
                break
            lines.append(line)
    return lines


# -- the page ----------------------------------------------------------------------

@needs_chromium
def test_the_page_has_a_title_and_asks_nothing_of_the_internet():
    with Server("--demo") as server, Browser() as browser:
        text = browser.show(server.url, ["backlog", "findings"])
        assert "backlog" in text  # it works without the internet
        assert browser.title == "auditop — demo"
        assert browser.requests, "no request seen"
        assert f"{server.origin}/static/fonts/RobotoMono-VariableFont_wght.ttf" in \
            browser.requests
        foreign = [url for url in browser.requests
                   if not url.startswith((server.origin + "/", "data:"))
                   and not url.startswith(server.origin.replace("http", "ws", 1) + "/")]
        assert not foreign


def test_the_served_page_and_styles_name_no_other_server():
    with Server("--demo") as server:
        page = subprocess.run(["curl", "-s", server.url], capture_output=True, text=True,
                              timeout=10).stdout
        css = subprocess.run(["curl", "-s", server.url + "/static/css/xterm.css"],
                             capture_output=True, text=True, timeout=10).stdout
        assert "<title>auditop — demo</title>" in page and "xterm" in css
        for text in (page, css):
            code = re.sub(r"/\*.*?\*/", "", text, flags=re.S)  # xterm.css credits, in comments
            assert not re.search(r"(src|href|url)\s*[=(]\s*[\"']?(https?:)?//", code), code
        assert "googleapis" not in page


def test_the_title_says_what_is_served():
    from auditop.web import title_of
    assert title_of(["python", "-m", "auditop.web_child", "1", "--demo"]) == "auditop — demo"
    assert title_of(["python", "-m", "auditop.web_child", "1", "replay", "/tmp/stall.jsonl"]
                    ) == "auditop — replay of stall.jsonl"
    assert title_of(["python", "-m", "auditop.web_child", "1", "--read-only"]
                    ) == "auditop — live, read-only"
