#!/usr/bin/env python3
"""An HTTP proxy between efs2s3 and an S3 server that injects faults, for tests.

Usage: s3_fault_proxy.py --upstream HOST:PORT [--port 0] [--rate 0.05] [--seed 1]
                         [--kinds 500,503,reset_before,...] [--stall 5]
                         [--methods GET,PUT,...] [--once-per-path]
                         [--stats FILE] [--log FILE]

Point efs2s3 at it with --s3-endpoint http://127.0.0.1:PORT (PORT is printed as the
first line of stdout). Requests and answers are forwarded byte for byte: the Host
header is left as the client sent it, so a SigV4 signature made for the proxy's
address is checked by the server against the same Host (radosgw accepts any Host
for path-style requests). Nothing is re-signed or rewritten, except a chunked answer,
which is passed on with a Content-Length instead.

Each request draws, with probability --rate and from a generator seeded with --seed,
one fault among --kinds (default all):
  500           answer 500 InternalError (S3 XML) without forwarding
  503           answer 503 SlowDown (S3 XML) without forwarding
  reset_before  reset the connection before the request reaches the server
  reset_after   forward the request, then reset the connection before the answer,
                or (one time in two) after sending half of it
  truncate      forward, then send the headers with the full Content-Length and
                half of the body (half of the headers when there is no body), close
  stall         forward, then send nothing for --stall seconds, then close (the
                server has acted; the client's stall timeout should fire first)
  flip          forward, and flip one bit of one byte in the body of a 2xx answer to
                a GET of an object (path style: /BUCKET/KEY); drawn only for those,
                other requests draw another kind. Listings are not flipped: S3 gives
                them no checksum (only TLS protects them), so a flipped key name
                would be a fault no client could tell from the truth.
--methods limits faults to requests of those methods (default: all).
--once-per-path gives each path (the query left out) at most one fault: a client that
tries again always gets the true answer the second time.
With concurrent clients the order of draws follows the order of arrival, so a seed
fixes the sequence of decisions, not which request gets which.

--restore-polls K emulates restores from archive storage classes that take time (the
server behind, e.g. moto_server, restores at once): the n-th object (in order of
arrival) asked for by RestoreObject (POST ?restore) stays unreadable for K*(1 + n%3)
HEAD requests of it: they answer x-amz-restore: ongoing-request="true", and GETs of
it answer 403 InvalidObjectState. Later HEADs and GETs are passed on. Each
RestoreObject request of an object is counted in --stats under "restores" (by path).

--stats FILE is rewritten (atomically) after every request as JSON:
{"requests": N, "by_method": {...}, "faults": {kind: n}, "upstream_errors": n}.
--log FILE gets one line per request: "METHOD PATH STATUS FAULT".
Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import socketserver
import struct
import sys
import threading
import time

KINDS = ["500", "503", "reset_before", "reset_after", "truncate", "stall", "flip"]


class Stats:
    def __init__(self, path: str | None, log_path: str | None):
        self.lock = threading.Lock()
        self.path = path
        self.log = open(log_path, "a", buffering=1) if log_path else None
        self.requests = 0
        self.by_method: dict[str, int] = {}
        self.faults = {k: 0 for k in KINDS}
        self.upstream_errors = 0
        self.restores: dict[str, int] = {}

    def restore(self, path: str) -> None:
        with self.lock:
            self.restores[path] = self.restores.get(path, 0) + 1
            self._write()

    def record(self, method: str, path: str, status: int, fault: str | None) -> None:
        with self.lock:
            self.requests += 1
            self.by_method[method] = self.by_method.get(method, 0) + 1
            if fault:
                self.faults[fault] += 1
            if self.log:
                self.log.write(f"{method} {path} {status} {fault or '-'}\n")
            self._write()

    def upstream_error(self) -> None:
        with self.lock:
            self.upstream_errors += 1
            self._write()

    def _write(self) -> None:
        if not self.path:
            return
        doc = {"requests": self.requests, "by_method": self.by_method,
               "faults": self.faults, "upstream_errors": self.upstream_errors,
               "restores": self.restores}
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f, sort_keys=True)
        os.replace(tmp, self.path)


class Decider:
    def __init__(self, rate: float, seed: int, kinds: list[str], methods: set[str] | None,
                 once_per_path: bool = False):
        self.methods = methods
        self.once_per_path = once_per_path
        self.faulted: set[str] = set()
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.rate = rate
        self.kinds = kinds

    def draw(self, method: str, object_get: bool,
             path: str = "") -> tuple[str | None, random.Random]:
        """A fault (or None) for a request, and a generator for its details."""
        with self.lock:
            detail = random.Random(self.rng.getrandbits(64))
            if self.rng.random() >= self.rate:
                return None, detail
            if self.methods is not None and method not in self.methods:
                return None, detail
            kinds = [k for k in self.kinds if k != "flip" or object_get]
            if not kinds or (self.once_per_path and path in self.faulted):
                return None, detail
            self.faulted.add(path)
            return self.rng.choice(kinds), detail


class SlowRestores:
    """Objects under restore that the proxy keeps unreadable for a while."""

    def __init__(self, polls: int):
        self.polls = polls
        self.lock = threading.Lock()
        self.left: dict[str, int] = {}  # path -> HEADs still answered "ongoing"

    def requested(self, path: str) -> None:
        with self.lock:
            if path not in self.left:
                self.left[path] = self.polls * (1 + len(self.left) % 3)

    def waiting(self, path: str, head: bool) -> bool:
        """Whether the object is still unreadable; a HEAD counts as a poll."""
        with self.lock:
            n = self.left.get(path, 0)
            if n <= 0:
                return False
            if head:
                self.left[path] = n - 1
            return True


class Message:
    """One HTTP/1.1 request or answer: the head as sent, and the body."""

    def __init__(self, start: bytes, headers: list[tuple[bytes, bytes]], body: bytes):
        self.start = start
        self.headers = headers
        self.body = body

    def header(self, name: bytes) -> bytes | None:
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def head_bytes(self) -> bytes:
        lines = [self.start] + [k + b": " + v for k, v in self.headers]
        return b"\r\n".join(lines) + b"\r\n\r\n"


def read_head(f) -> tuple[bytes, list[tuple[bytes, bytes]]] | None:
    start = f.readline(65537)
    if not start:
        return None
    start = start.rstrip(b"\r\n")
    headers = []
    while True:
        line = f.readline(65537)
        if not line:
            raise ConnectionError("connection closed inside the headers")
        line = line.rstrip(b"\r\n")
        if not line:
            break
        name, _, value = line.partition(b":")
        headers.append((name.strip(), value.strip()))
    return start, headers


def read_chunked(f) -> bytes:
    body = b""
    while True:
        size_line = f.readline(65537)
        if not size_line:
            raise ConnectionError("connection closed inside a chunked body")
        size = int(size_line.split(b";")[0].strip(), 16)
        if size == 0:
            while f.readline(65537).rstrip(b"\r\n"):
                pass  # trailers
            return body
        body += read_exact(f, size)
        f.readline(65537)


def read_exact(f, n: int) -> bytes:
    data = f.read(n)
    if data is None or len(data) != n:
        raise ConnectionError("connection closed inside a body")
    return data


def read_message(f, request_method: bytes | None = None) -> Message | None:
    """A request (request_method None) or the answer to a request_method."""
    head = read_head(f)
    if head is None:
        return None
    start, headers = head
    msg = Message(start, headers, b"")
    if request_method is not None:
        status = int(start.split(b" ")[1])
        if request_method == b"HEAD" or status in (204, 304) or status < 200:
            return msg
    te = msg.header(b"transfer-encoding")
    if te is not None and b"chunked" in te.lower():
        msg.body = read_chunked(f)
        msg.headers = [(k, v) for k, v in msg.headers
                       if k.lower() not in (b"transfer-encoding", b"content-length")]
        msg.headers.append((b"Content-Length", str(len(msg.body)).encode()))
        return msg
    cl = msg.header(b"content-length")
    if cl is not None:
        msg.body = read_exact(f, int(cl))
    elif request_method is not None:
        msg.body = f.read()  # until the server closes
    return msg


def s3_error(status: int, code: str, message: str) -> bytes:
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>{message}</Message><RequestId>fault-proxy</RequestId>"
            "</Error>").encode()
    reason = {403: b"Forbidden", 500: b"Internal Server Error",
              503: b"Service Unavailable"}[status]
    return (b"HTTP/1.1 %d %s\r\nContent-Type: application/xml\r\n"
            b"x-amz-request-id: fault-proxy\r\nContent-Length: %d\r\n\r\n"
            % (status, reason, len(body))) + body


def reset(sock: socket.socket) -> None:
    """Closes with a TCP RST instead of a FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class Handler(socketserver.BaseRequestHandler):
    def setup(self) -> None:
        self.upstream: socket.socket | None = None
        self.upstream_file = None

    def connect_upstream(self) -> None:
        if self.upstream is None:
            host, port = self.server.upstream
            self.upstream = socket.create_connection((host, port), timeout=120)
            self.upstream_file = self.upstream.makefile("rb")

    def close_upstream(self) -> None:
        if self.upstream is not None:
            self.upstream_file.close()
            self.upstream.close()
            self.upstream = None

    def exchange(self, req: Message) -> Message:
        """Forwards a request and reads the answer, once more on a fresh
        connection if the kept-alive one was closed by the server."""
        method = req.start.split(b" ")[0]
        for attempt in range(2):
            try:
                self.connect_upstream()
                self.upstream.sendall(req.head_bytes() + req.body)
                resp = read_message(self.upstream_file, method)
                if resp is None:
                    raise ConnectionError("server closed the connection")
                conn = resp.header(b"connection")
                if conn is not None and conn.lower() == b"close":
                    self.close_upstream()
                return resp
            except (OSError, ConnectionError):
                self.close_upstream()
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def handle(self) -> None:
        client = self.request
        f = client.makefile("rb")
        srv = self.server
        try:
            while True:
                try:
                    req = read_message(f)
                except (OSError, ConnectionError, ValueError):
                    return
                if req is None:
                    return
                method_b, path_b = req.start.split(b" ")[:2]
                method, path = method_b.decode(), path_b.decode(errors="replace")
                segments = path.split("?")[0].strip("/").split("/", 1)
                object_get = method == "GET" and len(segments) == 2 and segments[1] != ""
                bare = path.split("?")[0]
                if srv.slow and method == "GET" and object_get and srv.slow.waiting(bare, False):
                    client.sendall(s3_error(403, "InvalidObjectState",
                                            "The operation is not valid for the object's storage class"))
                    srv.stats.record(method, path, 403, None)
                    continue
                fault, rnd = srv.decider.draw(method, object_get, bare)
                if fault in ("500", "503"):
                    status = int(fault)
                    client.sendall(s3_error(status, "InternalError" if status == 500
                                            else "SlowDown", "injected by the fault proxy"))
                    srv.stats.record(method, path, status, fault)
                    continue
                if fault == "reset_before":
                    srv.stats.record(method, path, 0, fault)
                    reset(client)
                    return
                try:
                    resp = self.exchange(req)
                except (OSError, ConnectionError):
                    srv.stats.upstream_error()
                    reset(client)
                    return
                status = int(resp.start.split(b" ")[1])
                if fault == "reset_after":
                    srv.stats.record(method, path, status, fault)
                    if rnd.random() < 0.5:
                        data = resp.head_bytes() + resp.body
                        client.sendall(data[: len(data) // 2])
                    reset(client)
                    return
                if fault == "truncate":
                    srv.stats.record(method, path, status, fault)
                    if resp.body:
                        client.sendall(resp.head_bytes() + resp.body[: len(resp.body) // 2])
                    else:
                        head = resp.head_bytes()
                        client.sendall(head[: len(head) // 2])
                    client.close()
                    return
                if fault == "stall":
                    srv.stats.record(method, path, status, fault)
                    time.sleep(srv.stall)
                    client.close()
                    return
                if method == "POST" and "?restore" in path and 200 <= status < 300:
                    srv.stats.restore(bare)
                    if srv.slow:
                        srv.slow.requested(bare)
                if srv.slow and method == "HEAD" and status == 200 and srv.slow.waiting(bare, True):
                    resp.headers = [(k, v) for k, v in resp.headers
                                    if k.lower() != b"x-amz-restore"]
                    resp.headers.append((b"x-amz-restore", b'ongoing-request="true"'))
                body = resp.body
                if fault == "flip":
                    if 200 <= status < 300 and body:
                        i = rnd.randrange(len(body))
                        body = body[:i] + bytes([body[i] ^ (1 << rnd.randrange(8))]) + body[i + 1:]
                    else:
                        fault = None  # nothing to flip: not counted
                srv.stats.record(method, path, status, fault)
                client.sendall(resp.head_bytes() + body)
                conn = resp.header(b"connection")
                if conn is not None and conn.lower() == b"close":
                    return
        finally:
            self.close_upstream()
            try:
                f.close()
                client.close()
            except OSError:
                pass


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--upstream", required=True, help="HOST:PORT of the S3 server")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--rate", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--stall", type=float, default=5.0)
    ap.add_argument("--methods", help="comma-separated; faults only for these")
    ap.add_argument("--once-per-path", action="store_true")
    ap.add_argument("--stats")
    ap.add_argument("--log")
    ap.add_argument("--restore-polls", type=int, default=0)
    args = ap.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    for k in kinds:
        if k not in KINDS:
            ap.error(f"unknown fault kind {k} (known: {', '.join(KINDS)})")
    host, _, port = args.upstream.rpartition(":")
    server = Server(("127.0.0.1", args.port), Handler)
    server.upstream = (host, int(port))
    methods = set(args.methods.split(",")) if args.methods else None
    server.decider = Decider(args.rate, args.seed, kinds, methods, args.once_per_path)
    server.stats = Stats(args.stats, args.log)
    server.stall = args.stall
    server.slow = SlowRestores(args.restore_polls) if args.restore_polls > 0 else None
    server.stats._write()
    print(server.server_address[1], flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
