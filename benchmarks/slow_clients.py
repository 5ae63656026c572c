"""Normal requests while slow clients hold connections: ``modelport serve`` as it starts by
default, 200 connections that each send their request a line (or a few bytes) a second, and
one normal client timing ``GET /healthz`` and ``POST /api/predict`` (a digit) meanwhile.

    .venv/bin/python benchmarks/slow_clients.py [--slow 200] [--seconds 15]
        [--mode headers|body|both] [--store DIR] [--serve-args "--workers 2"]

The slow clients keep ``--slow`` connections open the whole time: one the server closes
(its head or body time-out) is replaced by a new one at once, as an attacker would. First
the normal client runs alone for a few seconds (the reference), then with the slow ones.
Only 127.0.0.1; bounded in time; every connection is closed at the end.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import shlex
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import serving  # noqa: E402
from load_digits import canvas_png  # noqa: E402

HEAD_START = b"POST /api/predict HTTP/1.1\r\nHost: x\r\n"
BODY_LENGTH = 100_000


class SlowClients:
    """``count`` connections that trickle their requests, kept at ``count`` until stopped."""

    def __init__(self, port: int, count: int, mode: str, deadline: float) -> None:
        self.port = port
        self.count = count
        self.mode = mode
        self.deadline = deadline
        self.sockets: list[tuple[socket.socket, str]] = []
        self.opened = 0
        self.cut_by_server = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _open(self, index: int) -> tuple[socket.socket, str]:
        kind = self.mode if self.mode != "both" else ("headers", "body")[index % 2]
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        sock.setblocking(False)
        if kind == "headers":
            sock.send(HEAD_START)
        else:
            head = HEAD_START + b"Content-Type: application/json\r\n"
            sock.send(head + b"Content-Length: %d\r\n\r\n{" % BODY_LENGTH)
        self.opened += 1
        return sock, kind

    def __enter__(self) -> SlowClients:
        self.sockets = [self._open(i) for i in range(self.count)]
        self._thread.start()
        return self

    def _run(self) -> None:
        tick = 0
        while not self._stop.wait(1.0) and time.monotonic() < self.deadline:
            tick += 1
            for index, (sock, kind) in enumerate(self.sockets):
                try:
                    if _closed_by_server(sock):
                        raise ConnectionError
                    sock.send(b"X-Slow-%d: y\r\n" % tick if kind == "headers" else b"1,")
                except OSError:
                    sock.close()
                    self.cut_by_server += 1
                    with contextlib.suppress(OSError):  # tried again next second
                        self.sockets[index] = self._open(index)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)
        for sock, _ in self.sockets:
            sock.close()


def _closed_by_server(sock: socket.socket) -> bool:
    """Whether the server answered (a 408) or closed: either way it is done with us."""
    try:
        sock.recv(65536)
    except BlockingIOError:
        return False
    return True


def timed_requests(port: int, seconds: float, digit_body: bytes) -> list[tuple[float, int]]:
    """Alternate GET /healthz and POST /api/predict for ``seconds``, each on a new
    connection: (latency in ms, status, 0 for a failure or time-out) of each."""
    results = []
    end = time.monotonic() + seconds
    index = 0
    while time.monotonic() < end:
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            if index % 2:
                headers = {"Content-Type": "application/json"}
                connection.request("POST", "/api/predict", digit_body, headers)
            else:
                connection.request("GET", "/healthz")
            response = connection.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            status = 0
        finally:
            connection.close()
        results.append(((time.perf_counter() - started) * 1000, status))
        index += 1
        time.sleep(0.05)
    return results


def summary(results: list[tuple[float, int]]) -> dict[str, object]:
    latencies = sorted(ms for ms, _ in results)
    if not latencies:
        return {"requests": 0}
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    return {
        "requests": len(latencies),
        "failed or timed out": sum(1 for _, status in results if status != 200),
        "p50 ms": round(statistics.median(latencies), 1),
        "p99 ms": round(p99, 1),
        "max ms": round(latencies[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow", type=int, default=200, help="slow connections held open")
    parser.add_argument("--seconds", type=float, default=15.0, help="with the slow clients")
    parser.add_argument("--mode", choices=("headers", "body", "both"), default="both")
    parser.add_argument("--store", type=Path, default=None, help="model store [a new one]")
    parser.add_argument("--serve-args", default="", help="extra options for modelport serve")
    options = parser.parse_args()
    digit_body = json.dumps(
        {"image": "data:image/png;base64," + base64.b64encode(canvas_png()).decode()}
    ).encode()
    store = options.store or Path(serving.tempfile.mkdtemp(prefix="modelport-store-"))
    server = serving.start("digits", store, shlex.split(options.serve_args))
    port = int(server.url.rsplit(":", 1)[1])
    try:
        alone = timed_requests(port, 3.0, digit_body)
        deadline = time.monotonic() + options.seconds + 15
        with SlowClients(port, options.slow, options.mode, deadline) as slow:
            time.sleep(1.0)  # every slow connection open and trickling
            loaded = timed_requests(port, options.seconds, digit_body)
        serving.report("normal requests alone (GET /healthz, POST /api/predict)", summary(alone))
        serving.report(
            f"the same with {options.slow} slow connections ({options.mode}),"
            f" {options.seconds:g} s",
            summary(loaded)
            | {
                "slow connections opened": slow.opened,
                "slow connections cut by the server": slow.cut_by_server,
            },
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
