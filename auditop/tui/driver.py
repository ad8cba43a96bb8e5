"""Textual's Linux driver with an input thread that sleeps until a key.

Textual's input thread waits on the terminal with `select(0.1)`: it wakes
ten times a second, whatever happens, to look at its exit flag and at the
escape key's timeout (`textual/drivers/linux_driver.py`). auditop stays open
for hours on idle servers, and those wakes were a tenth of its CPU (issue
15, docs/performance.md). Here the thread waits without a timeout unless an
escape sequence is pending (then until the parser's own deadline), and the
exit flag wakes it through a pipe.
"""

from __future__ import annotations

import os
import selectors
from codecs import getincrementaldecoder
from threading import Event

from textual._parser import ParseError
from textual._time import get_time
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver

FALLBACK_TIMEOUT = 0.1  # Textual's own, if its parser ever hides its deadline


class _WakingEvent(Event):
    """An Event whose set() also writes to a pipe the selector watches."""

    def __init__(self, wake_fd: int) -> None:
        super().__init__()
        self._wake_fd = wake_fd

    def set(self) -> None:
        super().set()
        try:
            os.write(self._wake_fd, b"x")
        except (BlockingIOError, OSError):
            pass  # the pipe is full (already woken) or closed (shut down)


class QuietLinuxDriver(LinuxDriver):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._wake_read, self._wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.exit_event = _WakingEvent(self._wake_write)

    def close(self) -> None:
        super().close()
        for fd in (self._wake_read, self._wake_write):
            try:
                os.close(fd)
            except OSError:
                pass

    def _drain_wake(self) -> None:
        try:
            while os.read(self._wake_read, 64):
                pass
        except (BlockingIOError, OSError):
            pass

    def run_input_thread(self) -> None:
        """LinuxDriver.run_input_thread, with the wait described above."""
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        selector.register(self._wake_read, selectors.EVENT_READ)
        parser = XTermParser(self._debug)
        decode = getincrementaldecoder("utf-8")().decode

        def timeout() -> float | None:
            if not hasattr(parser, "_timeout_time"):
                return FALLBACK_TIMEOUT
            deadline = parser._timeout_time  # set while an escape sequence is pending
            return None if deadline is None else max(0.0, deadline - get_time())

        def process(events, final: bool = False) -> None:
            for key, mask in events:
                if key.fd == self._wake_read:
                    self._drain_wake()  # a stale wake must not spin the loop
                    continue
                if not mask & selectors.EVENT_READ:
                    continue
                data = decode(os.read(self.fileno, 1024 * 4), final=final)
                if not data:
                    break  # stdin piped and closed
                for event in parser.feed(data):
                    self.process_message(event)
            for event in parser.tick():
                self.process_message(event)

        try:
            while not self.exit_event.is_set():
                process(selector.select(timeout()))
            self._drain_wake()
            selector.unregister(self._wake_read)
            selector.unregister(self.fileno)
            process(selector.select(0.1), final=True)
        finally:
            selector.close()
            try:
                for _ in parser.feed(""):
                    pass
            except (EOFError, ParseError):
                pass
