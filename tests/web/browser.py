"""A headless chromium driven over the DevTools protocol (aiohttp's
websocket client, which textual-serve brings): load a page, wait until the
terminal it shows has drawn some text, take a screenshot.

xterm.js draws on a canvas, so the page's DOM holds no text. A script added
before the page's own wraps WebSocket and keeps the terminal output the page
receives; the text is that output without its control sequences: what the
terminal drew. It keeps the URLs the page requested and its title."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import aiohttp

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

HOOK = r"""
(() => {
  const chunks = [];
  const Original = window.WebSocket;
  class Recorded extends Original {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        if (event.data instanceof ArrayBuffer) chunks.push(new Uint8Array(event.data));
        else if (typeof event.data === "string") chunks.push(new TextEncoder().encode(event.data));
      });
    }
  }
  window.WebSocket = Recorded;
  window.__terminalText = () => {
    const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) { all.set(c, at); at += c.length; }
    return new TextDecoder().decode(all)
      .replace(/\x1b\][^\x07\x1b]*(\x07|\x1b\\)/g, "")
      .replace(/\x1b\[[0-9;?<>=]*[ -\/]*[@-~]/g, "")
      .replace(/\x1b[()][A-Za-z0-9]|\x1b[=>78]/g, "");
  };
})();
"""


class Browser:
    """Use as a context manager: the browser is killed on the way out, also
    when the test failed (its process group, by the pid it started with)."""

    def __init__(self, size: tuple[int, int] = (1280, 800)) -> None:
        self.size = size
        self.process: subprocess.Popen | None = None
        self.requests: list[str] = []  # every URL the page asked for, by show()
        self.title = ""  # document.title, by show()
        self._profile = tempfile.TemporaryDirectory(prefix="auditop-chromium-")

    def __enter__(self) -> Browser:
        self.process = subprocess.Popen(
            [CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
             "--disable-quic", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--remote-debugging-port=0", f"--user-data-dir={self._profile.name}",
             f"--window-size={self.size[0]},{self.size[1]}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self._profile.cleanup()

    def _port(self, timeout: float = 20.0) -> int:
        active = Path(self._profile.name) / "DevToolsActivePort"
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if active.exists() and (lines := active.read_text().split()):
                return int(lines[0])
            time.sleep(0.1)
        raise AssertionError("chromium did not open its DevTools port")

    def show(self, url: str, wanted: list[str], timeout: float = 30.0,
             screenshot: Path | None = None) -> str:
        """Load `url`; the terminal's text once it holds every `wanted` word
        (or whatever it holds after `timeout`)."""
        return asyncio.run(self._show(url, wanted, timeout, screenshot))

    async def _show(self, url, wanted, timeout, screenshot) -> str:
        port = self._port()
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/json/list") as reply:
                page = next(t for t in await reply.json() if t["type"] == "page")
            async with session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                ids = itertools.count(1)

                async def call(method: str, **params):
                    ident = next(ids)
                    await ws.send_str(json.dumps({"id": ident, "method": method,
                                                  "params": params}))
                    async for message in ws:
                        reply = json.loads(message.data)
                        if reply.get("method") == "Network.requestWillBeSent":
                            self.requests.append(reply["params"]["request"]["url"])
                        if reply.get("id") == ident:
                            if "error" in reply:
                                raise AssertionError(f"{method}: {reply['error']}")
                            return reply.get("result", {})
                    raise AssertionError("chromium closed the DevTools connection")

                await call("Page.enable")
                await call("Network.enable")
                await call("Page.addScriptToEvaluateOnNewDocument", source=HOOK)
                await call("Page.navigate", url=url)
                text, end = "", time.monotonic() + timeout
                while time.monotonic() < end:
                    await asyncio.sleep(0.5)
                    result = await call("Runtime.evaluate", returnByValue=True,
                                        expression="window.__terminalText ? "
                                                   "window.__terminalText() : ''")
                    text = result.get("result", {}).get("value") or ""
                    if all(word in text for word in wanted):
                        await asyncio.sleep(1.0)  # let the canvas catch up for the picture
                        break
                result = await call("Runtime.evaluate", expression="document.title",
                                    returnByValue=True)
                self.title = result.get("result", {}).get("value") or ""
                if screenshot is not None:
                    shot = await call("Page.captureScreenshot", format="png")
                    screenshot.write_bytes(base64.b64decode(shot["data"]))
                return text
