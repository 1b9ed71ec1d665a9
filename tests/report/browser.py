"""A headless Chromium driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`: commands in on fd 3,
replies out on fd 4, each a JSON message ending in a NUL byte), for the HTML report's browser test and the docs'
screenshot. No network: background networking off, only the file:// page is opened; no browser download.

    with Browser.start() as b:          # None when no chromium is installed
        b.open(Path("report.html"))     # waits for the load event
        b.evaluate("document.title"); b.click("#runs th:nth-child(2)"); png = b.screenshot()
        b.errors                        # console errors and uncaught exceptions seen so far
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
from pathlib import Path

NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")
FLAGS = ("--headless", "--disable-background-networking", "--no-first-run", "--disable-gpu", "--no-sandbox",
         "--disable-extensions", "--disable-sync", "--disable-component-update", "--disable-default-apps",
         "--no-default-browser-check", "--hide-scrollbars", "--mute-audio", "--remote-debugging-pipe")
# --no-sandbox: CI runs as root, where Chromium refuses its sandbox


def find() -> str | None:
    return next((p for p in map(shutil.which, NAMES) if p), None)


class Browser:
    def __init__(self, proc: subprocess.Popen, send_fd: int, recv_fd: int, profile: str):
        self.proc, self.send_fd, self.recv_fd, self.profile = proc, send_fd, recv_fd, profile
        self.next_id, self.buffer, self.events, self.session = 0, b"", [], None
        self.errors: list[str] = []

    @classmethod
    def start(cls, width: int = 1280, height: int = 900) -> "Browser | None":
        exe = find()
        if exe is None:
            return None
        to_chrome_r, to_chrome_w = os.pipe()
        from_chrome_r, from_chrome_w = os.pipe()
        profile = tempfile.mkdtemp(prefix="mlrun-chromium-")

        def fds():                                   # in the child: the pipes at fd 3 and 4
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        proc = subprocess.Popen([exe, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
                                 "about:blank"], preexec_fn=fds, pass_fds=(3, 4), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        return cls(proc, to_chrome_w, from_chrome_r, profile)

    def __enter__(self) -> "Browser":
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.call("Browser.close", session=False, timeout=5)
        except (OSError, TimeoutError, RuntimeError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self.send_fd, self.recv_fd):
            os.close(fd)
        shutil.rmtree(self.profile, ignore_errors=True)

    def _read(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while b"\0" not in self.buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("no reply from the browser")
            ready, _, _ = select.select([self.recv_fd], [], [], 0.2)
            if ready:
                chunk = os.read(self.recv_fd, 1 << 20)
                if not chunk:
                    raise RuntimeError("the browser closed its pipe")
                self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, session: bool = True, timeout: float = 30, **params) -> dict:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.send_fd, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read(timeout)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._event(reply)

    def _event(self, event: dict) -> None:
        self.events.append(event.get("method"))
        p = event.get("params", {})
        if event.get("method") == "Runtime.exceptionThrown":
            self.errors.append(json.dumps(p.get("exceptionDetails", {}))[:300])
        elif event.get("method") == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            self.errors.append(str([a.get("value") for a in p.get("args", [])])[:300])
        elif event.get("method") == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            self.errors.append(p["entry"].get("text", "")[:300])

    def open(self, page: Path, timeout: float = 30) -> None:
        self.events.clear()
        self.call("Page.navigate", url=Path(page).resolve().as_uri())
        deadline = time.monotonic() + timeout
        while "Page.loadEventFired" not in self.events:
            self._event(self._read(max(deadline - time.monotonic(), 0.1)))

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, selector: str) -> None:
        """A real mouse click (press + release) at the middle of the element."""
        box = self.evaluate(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); "
                            f"e.scrollIntoView(); const r = e.getBoundingClientRect(); "
                            f"return [r.x + r.width / 2, r.y + r.height / 2]; }})()")
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)

    def screenshot(self) -> bytes:
        return base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])
