#!/usr/bin/env python3
"""Loads an HTML file in headless Chromium over the DevTools protocol (a
--remote-debugging-pipe, no extra packages) and prints what the page did, as
JSON: the network requests it made besides loading itself, console errors and
uncaught exceptions, the points of each chart (svg.chart[data-chart] ->
number of circle.point) and the table count; writes a full-page screenshot.

  render_report.py [--chromium PATH] [--height PX] PAGE.html SCREENSHOT.png
  (--height: only the top of the page)
"""
import argparse
import base64
import json
import os
import select
import subprocess
import sys
import tempfile
import time

TIMEOUT = 60


class Pipe:
    def __init__(self, proc, to_browser, from_browser):
        self.proc, self.w, self.r = proc, to_browser, from_browser
        self.buf = b""
        self.next_id = 0
        self.events = []

    def send(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        return self.wait(lambda m: m.get("id") == self.next_id)

    def read(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.r], [], [], left)[0]:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self.r, 65536)
            if not chunk:
                raise EOFError("chromium closed the pipe")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def wait(self, pred):
        deadline = time.monotonic() + TIMEOUT
        while True:
            m = self.read(deadline)
            if pred(m):
                if "error" in m:
                    raise RuntimeError(json.dumps(m["error"]))
                return m
            self.events.append(m)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chromium", default="chromium")
    ap.add_argument("--height", type=int, default=0)
    ap.add_argument("page")
    ap.add_argument("screenshot")
    a = ap.parse_args()
    url = "file://" + os.path.abspath(a.page)
    to_r, to_w = os.pipe()      # chromium reads fd 3
    from_r, from_w = os.pipe()  # chromium writes fd 4

    def child_fds():
        os.dup2(to_r, 3)
        os.dup2(from_w, 4)

    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.Popen(
            [a.chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--remote-debugging-pipe", "--no-first-run", "--no-default-browser-check",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--disable-extensions", "--user-data-dir=" + profile,
             "--window-size=1200,900", "about:blank"],
            pass_fds=(3, 4), preexec_fn=child_fds,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_r)
        os.close(from_w)
        p = Pipe(proc, to_w, from_r)
        try:
            target = p.send("Target.createTarget", {"url": "about:blank"})["result"]["targetId"]
            session = p.send("Target.attachToTarget",
                             {"targetId": target, "flatten": True})["result"]["sessionId"]
            for domain in ("Page", "Network", "Runtime", "Log"):
                p.send(domain + ".enable", session=session)
            p.send("Page.navigate", {"url": url}, session=session)
            p.wait(lambda m: m.get("method") == "Page.loadEventFired")
            counts = p.send("Runtime.evaluate", {
                "expression": "JSON.stringify({charts: Object.fromEntries("
                              "Array.from(document.querySelectorAll('svg.chart')).map("
                              "s => [s.dataset.chart, s.querySelectorAll('circle.point').length])),"
                              " tables: document.querySelectorAll('table').length})",
                "returnByValue": True}, session=session)["result"]["result"]["value"]
            metrics = p.send("Page.getLayoutMetrics", session=session)["result"]
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            shot = p.send("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": size["width"],
                         "height": min(size["height"], a.height or size["height"]),
                         "scale": 1}},
                session=session)["result"]["data"]
            with open(a.screenshot, "wb") as f:
                f.write(base64.b64decode(shot))
            try:
                p.send("Browser.close")
            except (EOFError, TimeoutError):
                pass
        finally:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    requests, errors = [], []
    for m in p.events:
        method, params = m.get("method"), m.get("params", {})
        if method == "Network.requestWillBeSent" and params["request"]["url"] != url:
            requests.append(params["request"]["url"])
        elif method == "Runtime.exceptionThrown":
            errors.append(params["exceptionDetails"].get("text", "exception"))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(json.dumps(params.get("args")))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            errors.append(params["entry"].get("text", ""))
    out = json.loads(counts)
    out.update({"requests": requests, "errors": errors, "screenshot": a.screenshot})
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
