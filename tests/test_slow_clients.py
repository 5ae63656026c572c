"""Slow clients do not starve the others: ``modelport serve`` as it starts by default reads
each request whole (headers and body) in its event loop before a request thread sees it,
and answers 408 to one that stalls. The latencies are printed; timed figures are
``benchmarks/slow_clients.py``'s, these tests check that requests are answered at all and
promptly. Only 127.0.0.1; every slow connection is bounded in time and closed here."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import pytest
from conftest import data_uri, drawn_one, start_server, stop_server

from modelport.web import server as front

pytestmark = pytest.mark.slow

SLOW = 200
TRICKLE_SECONDS = 15
PROMPT_SECONDS = 1.0  # generous: the issue asks for 100 ms, measured by the benchmark
HEAD_START = b"POST /api/predict HTTP/1.1\r\nHost: x\r\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory, model_store):
    live = start_server(tmp_path_factory.mktemp("slow-instance"), model_store, ("digits",))
    live.port = int(live.url.rsplit(":", 1)[1])
    yield live
    stop_server(live)


class Trickle:
    """``count`` connections that send the start of a request, then one more header line (or,
    with ``body``, one more byte of a declared body) a second, for at most ``seconds``."""

    def __init__(self, port: int, count: int, body: bool, seconds: float = TRICKLE_SECONDS):
        self.port = port
        self.count = count
        self.body = body
        self.deadline = time.monotonic() + seconds
        self.sockets: list[socket.socket] = []
        self.failed_sends = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Trickle:
        start = HEAD_START
        if self.body:
            start += b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
        try:
            for _ in range(self.count):
                sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                self.sockets.append(sock)
                sock.sendall(start)
        except BaseException:
            self._close()
            raise
        self._thread.start()
        return self

    def _run(self) -> None:
        line = 0
        while not self._stop.wait(1.0) and time.monotonic() < self.deadline:
            line += 1
            more = b'"a":1,' if self.body else b"X-Slow-%d: y\r\n" % line
            for sock in self.sockets:
                try:
                    sock.sendall(more)
                except OSError:
                    self.failed_sends += 1

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)
        self._close()

    def _close(self) -> None:
        for sock in self.sockets:
            sock.close()


def timed(port: int, method: str, path: str, body: bytes | None = None) -> tuple[float, int]:
    """One request on a new connection: seconds until the whole answer, and its status."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        connection.request(method, path, body, headers)
        response = connection.getresponse()
        response.read()
        return time.perf_counter() - started, response.status
    finally:
        connection.close()


def normal_requests(port: int, rounds: int = 10) -> list[tuple[float, int]]:
    digit = json.dumps({"image": data_uri(drawn_one()), "model": "digits"}).encode()
    results = []
    for _ in range(rounds):
        results.append(timed(port, "GET", "/healthz"))
        results.append(timed(port, "POST", "/api/predict", digit))
    return results


def check_prompt(results: list[tuple[float, int]], what: str) -> None:
    latencies = [round(seconds * 1000, 1) for seconds, _ in results]
    print(f"\n{what}: latencies in ms {latencies}")
    assert [status for _, status in results] == [200] * len(results)
    assert max(seconds for seconds, _ in results) < PROMPT_SECONDS, latencies


def test_normal_requests_are_answered_while_200_clients_trickle_their_headers(server):
    with Trickle(server.port, SLOW, body=False):
        time.sleep(1.5)  # every slow connection accepted and part-way through its headers
        results = normal_requests(server.port)
    check_prompt(results, f"with {SLOW} slow heads")


def test_normal_requests_are_answered_while_200_clients_trickle_their_bodies(server):
    with Trickle(server.port, SLOW, body=True):
        time.sleep(1.5)
        results = normal_requests(server.port)
    check_prompt(results, f"with {SLOW} slow bodies")


def read_all(sock: socket.socket, limit: float) -> bytes:
    """Everything the server sends until it closes (or ``limit`` seconds pass)."""
    sock.settimeout(limit)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except TimeoutError:
        pass
    return received


def test_a_request_that_stalls_is_answered_408_and_cut_off(server):
    head = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    body = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    silent = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    try:
        started = time.monotonic()
        head.sendall(HEAD_START)
        body.sendall(HEAD_START + b"Content-Length: 1000\r\n\r\n{")
        answers = {}
        for name, sock in (("head", head), ("body", body), ("silent", silent)):
            answers[name] = read_all(sock, max(0.1, started + TRICKLE_SECONDS - time.monotonic()))
        waited = time.monotonic() - started
    finally:
        for sock in (head, body, silent):
            sock.close()
    assert waited < TRICKLE_SECONDS - 1, "the server kept a stalled connection open"
    assert waited > min(front.HEAD_SECONDS, front.BODY_SECONDS) - 1
    for name in ("head", "body"):
        status_line, _, rest = answers[name].partition(b"\r\n")
        assert status_line == b"HTTP/1.1 408 Request Timeout", answers[name]
        assert json.loads(rest.split(b"\r\n\r\n", 1)[1])["error"] == "request_timeout"
    assert answers["silent"] == b""  # it began no request: closed without an answer
    log = (server.instance_path / "server.log").read_text()
    assert '"status":408' in log and '"reason":"body too slow"' in log


def check_refused_by_the_app(answer: bytes) -> None:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 "), answer[:300]
    assert b"connection: close" in head.lower()
    assert b"x-request-id" in head.lower()  # the app's own answer, logged as every request
    assert json.loads(body)["error"] == "too_large"


def test_a_body_over_the_limit_is_dropped_then_refused_by_the_app(server):
    size = 40 << 20  # over this app's limit (about 27 MB), under twice it
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(HEAD_START + b"Content-Type: application/json\r\n")
        sock.sendall(b"Content-Length: %d\r\n\r\n" % size)
        sock.sendall(b"a" * size)  # all of it, as clients do before they read an answer
        check_refused_by_the_app(read_all(sock, 10))


def test_a_client_waiting_for_100_continue_is_refused_at_once(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(HEAD_START + b"Content-Type: application/json\r\nExpect: 100-continue\r\n")
        sock.sendall(b"Content-Length: 1000000000\r\n\r\n")
        started = time.monotonic()
        answer = read_all(sock, 10)
    assert time.monotonic() - started < PROMPT_SECONDS
    check_refused_by_the_app(answer)


def chunked(data: bytes, size: int) -> bytes:
    parts = [data[i : i + size] for i in range(0, len(data), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts) + b"0\r\n\r\n"


def test_a_chunked_body_reaches_the_app_whole(server):
    digit = json.dumps({"image": data_uri(drawn_one()), "model": "digits"}).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            HEAD_START + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\n" + chunked(digit, 1000)
        )
        answer = read_all(sock, 10)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), answer[:500]
    assert body == b"1\n"  # the classic contract answers the digit as plain text


def test_a_chunked_body_over_the_limit_is_refused(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(
            HEAD_START + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        block = b"%x\r\n%s\r\n" % (1 << 20, b"a" * (1 << 20))
        sent = 0
        try:
            while sent < 64 << 20:  # past any limit this app sets (about 27 MB)
                sock.sendall(block)
                sent += 1 << 20
        except OSError:  # the server answered and closed while we were still sending
            pass
        answer = read_all(sock, 10)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 "), answer[:300]
    assert json.loads(body)["error"] == "too_large"
