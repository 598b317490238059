"""A real headless Chromium driven over the DevTools protocol (`--remote-debugging-pipe`:
JSON messages ending in NUL on file descriptors 3 and 4), with no library in between.

It loads a page and reports what a person's browser would: the DOM after the scripts ran,
console messages and uncaught exceptions, every network request the page made, the load
timing, and screenshots. Used by the report tests, screenshots/make.py and
benchmarks/bench_report.py; one browser serves many pages.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = [
    "--headless",
    "--no-sandbox",  # as root (CI)
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--mute-audio",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
]


class BrowserError(RuntimeError):
    pass


@dataclass
class PageLoad:
    url: str
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    console: list[str] = field(default_factory=list)  # "level: text"
    exceptions: list[str] = field(default_factory=list)
    load_ms: float = 0.0  # navigation start to the load event's end (Performance API)


class Chromium:
    """One browser process; `load(path)` opens a file in its one tab."""

    def __init__(self, binary: str, width: int = 1280, height: int = 900) -> None:
        self.profile = tempfile.mkdtemp(prefix="ls-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        # the child reads commands on fd 3 and writes answers on fd 4 (_fds, in the child;
        # pass_fds keeps those two open through the exec)
        self.proc = subprocess.Popen(
            [
                binary,
                *FLAGS,
                f"--user-data-dir={self.profile}",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(3, 4),
            preexec_fn=lambda: _fds(to_child_r, from_child_w),
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []
        self.session = self._attach()
        self.width, self.height = width, height

    # -- protocol -------------------------------------------------------------------------

    def _send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> int:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session is not None:
            msg["sessionId"] = session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        return self._id

    def _read(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("no answer from chromium in time")
            ready, _, _ = select.select([self._from_child], [], [], left)
            if ready:
                chunk = os.read(self._from_child, 1 << 20)
                if not chunk:
                    raise BrowserError("chromium closed the pipe")
                self._buf += chunk
        raw, _, self._buf = self._buf.partition(b"\0")
        return dict(json.loads(raw))

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session: str | None = "",
        timeout: float = 60,
    ) -> dict[str, Any]:
        """Send a command (to the page's session unless session=None) and wait for its
        answer; events that arrive meanwhile are kept in `events`."""
        sid = self.session if session == "" else session
        want = self._send(method, params, sid)
        while True:
            msg = self._read(timeout)
            if msg.get("id") == want:
                if "error" in msg:
                    raise BrowserError(f"{method}: {msg['error']}")
                return dict(msg.get("result", {}))
            if "method" in msg:
                self.events.append(msg)

    def _attach(self) -> str:
        targets = self.call("Target.getTargets", session=None)["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        sid = self.call(
            "Target.attachToTarget", {"targetId": page["targetId"], "flatten": True}, session=None
        )["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.call(f"{domain}.enable", session=sid)
        return str(sid)

    # -- pages ----------------------------------------------------------------------------

    def load(self, path: Path, timeout: float = 60) -> PageLoad:
        url = path.resolve().as_uri()
        self.events.clear()
        self.call("Page.navigate", {"url": url})
        deadline = time.monotonic() + timeout
        while not any(e["method"] == "Page.loadEventFired" for e in self.events):
            if time.monotonic() > deadline:
                raise BrowserError(f"{url}: no load event in {timeout} s")
            msg = self._read(deadline - time.monotonic())
            if "method" in msg:
                self.events.append(msg)
        self.evaluate("1")  # let the console and exception events of the load arrive
        page = PageLoad(url)
        timing = self.evaluate(
            "(() => { const t = performance.getEntriesByType('navigation')[0];"
            " return t ? t.loadEventEnd - t.startTime : -1; })()"
        )
        page.load_ms = float(timing)
        self.collect(page)
        return page

    def collect(self, page: PageLoad) -> None:
        """Requests, console messages and exceptions seen since the page started loading."""
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Network.requestWillBeSent":
                page.requests.append(p["request"]["url"])
            elif e["method"] == "Runtime.consoleAPICalled":
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"])
                page.console.append(f"{p['type']}: {text}")
            elif e["method"] == "Log.entryAdded":
                entry = p["entry"]
                page.console.append(f"{entry['level']}: {entry['text']}")
            elif e["method"] == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                page.exceptions.append(str(d.get("exception", {}).get("description", d)))

    def evaluate(self, expression: str) -> Any:
        got = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in got:
            raise BrowserError(f"{expression[:80]}: {got['exceptionDetails']}")
        return got["result"].get("value")

    def dom(self) -> str:
        return str(self.evaluate("document.documentElement.outerHTML"))

    def screenshot(self, out: Path, clip: str | None = None, max_height: int = 0) -> None:
        """A PNG of the element matching `clip` (else the whole page), at most
        `max_height` CSS pixels tall when given."""
        target = f"document.querySelector({json.dumps(clip)})" if clip else "document.body"
        box = self.evaluate(
            f"(() => {{ const r = {target}.getBoundingClientRect();"
            " return [r.left + scrollX, r.top + scrollY, r.width,"
            f" {'r.height' if clip else 'document.documentElement.scrollHeight'}]; }})()"
        )
        x, y, w, h = box
        if max_height:
            h = min(h, max_height)
        params = {
            "format": "png",
            "clip": {"x": x, "y": y, "width": w, "height": h, "scale": 1},
            "captureBeyondViewport": True,
        }
        data = self.call("Page.captureScreenshot", params)["data"]
        out.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            self._send("Browser.close")
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired, BrowserError):
            self.proc.kill()
            self.proc.wait()
        finally:
            os.close(self._to_child)
            os.close(self._from_child)
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fds(read_end: int, write_end: int) -> None:
    """In the child: the commands pipe on fd 3, the answers pipe on fd 4."""
    r = os.dup(read_end)
    w = os.dup(write_end)
    os.dup2(r, 3)
    os.dup2(w, 4)
    os.set_inheritable(3, True)
    os.set_inheritable(4, True)


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path is not None:
            return path
    return None
