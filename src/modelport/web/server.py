"""gunicorn run in-process, so ``modelport serve`` needs no separate config file.

Each worker builds the app itself (no preload): it loads and warms the models before it
accepts a connection, and a worker that dies is replaced by the master with a fresh load
while the other workers keep serving. ONNX Runtime and the recorder's writer thread are
thereby never carried across a fork.

The gunicorn master manages the workers (hooks, restarts, SIGHUP reload); each worker is
uvicorn's event loop (HTTP parsed by httptools) in front of the Flask app, which runs in
the worker's request threads. A request reaches a thread only once it is all there, headers
and body: a client that sends slowly costs a connection, never a thread, and one that stalls
is answered 408 and cut off (see :class:`WholeRequests` and :class:`TimedHttpProtocol`).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import mmap
import os
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote_to_bytes

from gunicorn.app.base import BaseApplication
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import Server as UvicornServer
from uvicorn_worker import UvicornWorker

from modelport import telemetry

log = logging.getLogger(__name__)


def child_exit(server: Any, worker: Any) -> None:
    """A worker is gone (stopped, crashed or killed): drop its live gauges."""
    telemetry.worker_exited(worker.pid)


def worker_exit(server: Any, worker: Any) -> None:
    """The last thing a worker does: store what it still holds, then leave at once.

    A normal interpreter exit runs the C++ static destructors of the native libraries,
    and after a photo prediction one of them threw ``std::system_error`` there: the worker
    died by SIGABRT at every shutdown and the master lingered. Nothing is left for those
    destructors to do that a process exit does not.
    """
    from modelport.store.recorder import flush_all

    # What the worker holds is written while the master lets it (graceful_timeout).
    flush_all(timeout=max(1.0, worker.cfg.graceful_timeout - 2.0))
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_code(sys.exc_info()[1]))


def _exit_code(leaving: BaseException | None) -> int:
    """The code the worker was exiting with (gunicorn's own codes included)."""
    if isinstance(leaving, SystemExit):
        return 0 if leaving.code is None else leaving.code if isinstance(leaving.code, int) else 1
    return 0 if leaving is None else 1


def worker_abort(worker: Any) -> None:
    log.error("worker %s timed out and was aborted; the master starts another", worker.pid)


HOOKS = {"child_exit": child_exit, "worker_exit": worker_exit, "worker_abort": worker_abort}
WATCH_SECONDS = 1.0

# A request's head (request line and headers) must arrive within this many seconds of the
# connection opening or of the request's first byte; its body within this many seconds,
# plus one more for every BODY_MIN_RATE bytes received (a slow upload that keeps coming
# is fine, a trickle is not). Otherwise: 408, and the connection is closed.
HEAD_SECONDS = 10.0
BODY_SECONDS = 10.0
# When a worker stops, how long a connection that has sent nothing yet is still waited for.
STOP_GRACE_SECONDS = 1.0
BODY_MIN_RATE = 16 * 1024
# A body over the limit is read and dropped up to this many times the limit, then cut off.
DRAIN_FACTOR = 2
# What a worker answers when the app's MAX_CONTENT_LENGTH is not set.
DEFAULT_MAX_BODY = 64 * 1024 * 1024
# A worker holding more connections than another leaves a new one this long to the other
# before it takes it itself (the other may be busy).
DEFER_SECONDS = 0.01
BALANCE_SLOTS = 256

front_log = logging.getLogger("modelport.requests")


def _json_answer(status: int, reason: str, code: str, detail: str) -> tuple[bytes, bytes]:
    """A complete HTTP/1.1 response closing the connection: its head and body."""
    body = json.dumps({"error": code, "detail": detail}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode()
    return head, body


def _log_front_answer(status: int, method: str, path: str, remote: str, why: str) -> None:
    """A request answered here, before the app saw it: logged and counted like the app's."""
    telemetry.HTTP_REQUESTS.labels("<unmatched>", method or "-", str(status)).inc()
    fields = {"method": method, "path": path, "status": status, "remote": remote}
    fields |= {"reason": why, "pid": os.getpid()}
    front_log.handle(
        front_log.makeRecord(
            front_log.name, logging.INFO, "", 0, "request", None, None, extra={"fields": fields}
        )
    )


class TimedHttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol (httptools) with a time-out on each request's head.

    uvicorn itself times out only an idle keep-alive connection: one that was opened and sent
    nothing, or sends its headers a line at a time, would stay open for ever. Here it gets
    :data:`HEAD_SECONDS` from the connection opening (or from a later request's first
    byte) to the end of the headers; then a 408 if it had begun a request, and it is closed.
    """

    _head_timer: asyncio.TimerHandle | None = None
    _head_begun = False
    _stopping = False

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer = self.loop.call_later(HEAD_SECONDS, self._head_timed_out)
        balance.opened()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_begun = True
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(HEAD_SECONDS, self._head_timed_out)

    def on_headers_complete(self) -> None:
        self._head_begun = False
        self._cancel_head_timer()
        super().on_headers_complete()
        if self._stopping and self.cycle is not None:
            self.cycle.keep_alive = False

    def shutdown(self) -> None:
        """The worker stops gracefully. uvicorn closes every connection not answering a
        request, a request on its way included; here a connection that has not sent its
        first request yet, or is part-way through one's headers, is answered first (then
        closed): within :data:`HEAD_SECONDS`, or :data:`STOP_GRACE_SECONDS` if it has sent
        nothing."""
        if self.transport.is_closing() or not (self.cycle is None or self._head_begun):
            return super().shutdown()
        self._stopping = True
        if not self._head_begun:
            self._cancel_head_timer()
            self._head_timer = self.loop.call_later(STOP_GRACE_SECONDS, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        balance.closed()
        super().connection_lost(exc)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._head_begun:
            detail = f"The request's headers did not arrive within {HEAD_SECONDS:g} s."
            head, body = _json_answer(408, "Request Timeout", "request_timeout", detail)
            self.transport.write(head + body)
            remote = self.client[0] if self.client else ""
            _log_front_answer(408, "", "", remote, "headers too slow")
        self.transport.close()


class Balance:
    """How many connections each worker holds, in memory the master shares with the workers
    it forks, so that a burst of keep-alive connections is shared out evenly.

    Every worker's event loop is woken by a new connection; one that holds more than
    another live worker leaves it to that one for :data:`DEFER_SECONDS`, and takes it only
    if it is still waiting then. Without this, the worker that wakes first takes every
    connection of a burst (all 16 of 16 measured) and the other idles. A count of -1 is a
    slot with no worker serving: not started yet (loading its models), stopping, or gone.
    """

    def __init__(self, slots: int = BALANCE_SLOTS) -> None:
        self.memory = mmap.mmap(-1, 8 * slots)
        self.counts = memoryview(self.memory).cast("q")
        for slot in range(slots):
            self.counts[slot] = -1
        self.slot: int | None = None
        self.held = 0

    # In the master (gunicorn hooks)
    def assign(self, server: Any, worker: Any) -> None:
        used = {getattr(other, "balance_slot", None) for other in server.WORKERS.values()}
        worker.balance_slot = next(i for i in range(len(self.counts)) if i not in used)

    def release(self, worker: Any) -> None:
        slot = getattr(worker, "balance_slot", None)
        if slot is not None:
            self.counts[slot] = -1

    # In a worker
    def start(self, slot: int) -> None:
        self.slot = slot
        self.counts[slot] = self.held

    def stop(self) -> None:
        if self.slot is not None:
            self.counts[self.slot] = -1
            self.slot = None

    def opened(self) -> None:
        self.held += 1
        if self.slot is not None:
            self.counts[self.slot] = self.held

    def closed(self) -> None:
        self.held -= 1
        if self.slot is not None:
            self.counts[self.slot] = self.held

    def another_holds_fewer(self) -> bool:
        held, mine = self.held, self.slot
        return any(0 <= count < held for slot, count in enumerate(self.counts) if slot != mine)


# Made in the master when the module is imported, before any worker is forked: each worker
# inherits the same shared memory.
balance = Balance()


def _readable(loop: asyncio.AbstractEventLoop, fd: int) -> asyncio.Future:
    ready = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, wake)
    ready.add_done_callback(lambda _: loop.remove_reader(fd))
    return ready


class BalancedServer(UvicornServer):
    """uvicorn's server, accepting connections itself (see :class:`Balance`) rather than
    through ``loop.create_server``, which takes every connection waiting at once."""

    listeners: list = []

    async def startup(self, sockets: list | None = None) -> None:
        await super().startup(sockets=[])  # sets up the server without listening
        config, state = self.config, self.server_state
        app_state = self.lifespan.state

        def protocol() -> asyncio.Protocol:
            return config.http_protocol_class(
                config=config, server_state=state, app_state=app_state
            )

        self._accepting = [
            asyncio.create_task(self._accept(getattr(listener, "sock", listener), protocol))
            for listener in self.listeners
        ]

    async def _accept(self, listener, protocol: Callable) -> None:
        loop = asyncio.get_running_loop()
        listener.setblocking(False)
        while True:
            await _readable(loop, listener.fileno())
            if balance.another_holds_fewer():
                await asyncio.sleep(DEFER_SECONDS)
            try:
                connection, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                continue  # another worker took it
            except OSError:  # out of file descriptors, say: wait for some to close
                log.exception("could not accept a connection")
                await asyncio.sleep(0.5)
                continue
            connection.setblocking(False)
            # Shielded: a worker told to stop still serves a connection it has accepted.
            await asyncio.shield(loop.connect_accepted_socket(protocol, connection))

    async def shutdown(self, sockets: list | None = None) -> None:
        balance.stop()
        for task in getattr(self, "_accepting", []):
            task.cancel()
        await super().shutdown()


class WholeRequests:
    """The Flask (WSGI) app as an ASGI app that hands it whole requests.

    The body is read in the event loop, with a time-out (408) and a size limit (413), and
    only then is the app called in one of the worker's ``threads``; its answer is sent from
    the loop too. A body over ``max_body`` is read on and dropped (up to :data:`DRAIN_FACTOR`
    times the limit: a client sends its whole body before it reads an answer, and a
    connection closed on unread data is reset, losing the answer), then refused with 413 and
    the connection closed: by the app when the body declared its length (JSON under /api,
    a page elsewhere), here when it was chunked.
    """

    def __init__(
        self, app: Callable, threads: int, max_body: int | None, trusted: list[str] = ()
    ) -> None:
        self.app = app
        self.max_body = max_body or DEFAULT_MAX_BODY
        self.trusted = set(trusted)  # peers whose X-Forwarded-Proto is believed, as gunicorn
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="modelport-request")

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return
        length, chunked, expects_continue = _framing(scope["headers"])
        too_large = length is not None and length > self.max_body
        problem = None
        if length is None and not chunked:
            body = b""
        elif too_large and expects_continue:
            body = b""  # the client waits for a go-ahead it will not get: nothing to drop
        else:
            body, problem = await self._read_body(receive, too_large)
        if problem == "gone":
            return
        if problem == "slow":
            detail = "The request's body did not arrive in time."
            return await _refuse(scope, send, 408, "request_timeout", detail, "body too slow")
        if problem == "large" and length is None:
            detail = f"The request is over the {self.max_body // (1024 * 1024)} MB limit."
            return await _refuse(scope, send, 413, "too_large", detail, "body too large")
        # A body declared too large reaches the app unread: it answers 413 from the length.
        environ = _environ(scope, body, len(body) if chunked else length)
        if environ.get("HTTP_X_FORWARDED_PROTO") == "https" and self._trusted(scope):
            environ["wsgi.url_scheme"] = "https"
        loop = asyncio.get_running_loop()
        status, headers, content, stream = await loop.run_in_executor(
            self.pool, self._call, environ
        )
        if too_large:
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if stream is None:
            await send({"type": "http.response.body", "body": content})
            return
        await send({"type": "http.response.body", "body": content, "more_body": True})
        await self._stream(send, stream)

    def _trusted(self, scope: dict) -> bool:
        client = scope.get("client")
        return "*" in self.trusted or (client is not None and client[0] in self.trusted)

    async def _read_body(self, receive: Callable, too_large: bool) -> tuple[bytes, str | None]:
        """The whole body and None, or b"" and what went wrong: "gone" (the client left),
        "slow" (time-out) or "large" (over the limit; what came was dropped)."""
        parts: list[bytes] = []
        size = 0
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with asyncio.timeout_at(started + BODY_SECONDS) as deadline:
                while True:
                    message = await receive()
                    if message["type"] != "http.request":
                        return b"", "gone"
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > self.max_body and not too_large:
                        too_large, parts = True, []
                    if chunk and not too_large:
                        parts.append(chunk)
                    if not message.get("more_body", False) or size > DRAIN_FACTOR * self.max_body:
                        break
                    deadline.reschedule(started + BODY_SECONDS + size / BODY_MIN_RATE)
        except TimeoutError:
            return b"", "slow"
        if too_large:
            return b"", "large"
        return (parts[0] if len(parts) == 1 else b"".join(parts)), None

    def _call(self, environ: dict) -> tuple[int, list[tuple[bytes, bytes]], bytes, Any]:
        """In a request thread: the app's status, headers and body; a response that gives no
        length (a streamed export) comes back as its first chunk and the rest to pull."""
        started: list = []
        chunks: list[bytes] = []

        def start_response(status: str, headers: list, exc_info=None):
            if exc_info is not None and started:
                raise exc_info[1].with_traceback(exc_info[2])
            started[:] = [status, headers]
            return chunks.append

        iterable = self.app(environ, start_response)
        streamed = False
        try:
            iterator = iter(iterable)
            if started and not any(k.lower() == "content-length" for k, _ in started[1]):
                streamed = True
                chunks.append(_next_chunk(iterator) or b"")
                return (*_status_and_headers(started), b"".join(chunks), (iterable, iterator))
            for chunk in iterator:
                if chunk:
                    chunks.append(chunk)
        finally:
            if not streamed:
                _close(iterable)
        content = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return (*_status_and_headers(started), content, None)

    async def _stream(self, send: Callable, stream: tuple[Any, Any]) -> None:
        """The rest of a streamed response, a chunk at a time from a request thread."""
        loop = asyncio.get_running_loop()
        iterable, iterator = stream
        try:
            while (
                chunk := await loop.run_in_executor(self.pool, _next_chunk, iterator)
            ) is not None:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await loop.run_in_executor(self.pool, _close, iterable)


STREAM_CHUNK = 64 * 1024


def _next_chunk(iterator: Any) -> bytes | None:
    """At least STREAM_CHUNK bytes of a streamed body (less at its end); None when done."""
    parts: list[bytes] = []
    size = 0
    for chunk in iterator:
        if chunk:
            parts.append(chunk)
            size += len(chunk)
            if size >= STREAM_CHUNK:
                break
    return b"".join(parts) if parts else None


def _close(iterable: Any) -> None:
    close = getattr(iterable, "close", None)
    if close is not None:
        close()


def _status_and_headers(started: list) -> tuple[int, list[tuple[bytes, bytes]]]:
    status, headers = started
    encoded = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    return int(status[:3]), encoded


async def _refuse(
    scope: dict, send: Callable, status: int, code: str, detail: str, why: str
) -> None:
    body = json.dumps({"error": code, "detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    client = scope.get("client")
    _log_front_answer(status, scope["method"], scope["path"], client[0] if client else "", why)


def _framing(headers: list[tuple[bytes, bytes]]) -> tuple[int | None, bool, bool]:
    """The request's declared Content-Length, whether its body is chunked (httptools has
    checked both: a malformed or conflicting framing never reaches here), and whether the
    client waits for "100 Continue" before it sends the body."""
    length = None
    chunked = expects_continue = False
    for name, value in headers:
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = True
        elif name == b"expect":
            expects_continue = value.lower() == b"100-continue"
    return length, chunked, expects_continue


def _environ(scope: dict, body: bytes, length: int | None) -> dict:
    """The WSGI environ of an ASGI request whose body has been read (gunicorn's rules: a
    header whose name has an underscore is dropped, so it cannot pass for another)."""
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client") or ("", 0)
    path = unquote_to_bytes(scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    environ = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": scope["query_string"].decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": "HTTP/" + scope["http_version"],
        "REMOTE_ADDR": client[0],
        "REMOTE_PORT": str(client[1]),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if length is not None:
        environ["CONTENT_LENGTH"] = str(length)
    for name, value in scope["headers"]:
        if b"_" in name or name in (b"content-length", b"transfer-encoding"):
            continue
        key = name.decode("latin-1").upper().replace("-", "_")
        if key != "CONTENT_TYPE":
            key = "HTTP_" + key
        text = value.decode("latin-1")
        environ[key] = f"{environ[key]},{text}" if key in environ else text
    return environ


class Worker(UvicornWorker):
    """A gunicorn worker serving with uvicorn's event loop and :class:`TimedHttpProtocol`.

    gunicorn's master starts, watches, restarts and reloads it as any worker; its hooks run
    (``worker_exit`` included: SIGTERM stops it gracefully, and it leaves through the hook).
    """

    CONFIG_KWARGS: dict[str, Any] = {
        # asyncio's own loop: uvloop measured no faster here, and closes the listening
        # descriptor under gunicorn's socket object at shutdown
        "loop": "asyncio",
        "http": TimedHttpProtocol,
        "ws": "none",
        "lifespan": "off",
        "access_log": False,  # the app logs each request, as JSON
        "server_header": False,
        # as gunicorn: REMOTE_ADDR is the peer; X-Forwarded-Proto from a trusted one only
        "proxy_headers": False,
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.server = None
        self.config.limit_concurrency = self.cfg.worker_connections
        # Done (and the recorder flushed) before the master's SIGKILL at graceful_timeout.
        self.config.timeout_graceful_shutdown = max(1, self.cfg.graceful_timeout - 5)

    def init_signals(self) -> None:
        super().init_signals()
        # uvicorn handles SIGTERM and SIGINT while it serves, then restores these handlers
        # and raises the signal again: with the default action the worker would die of it
        # before gunicorn's worker_exit hook could flush the recorder.
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGABRT, self.handle_abort)

    def _stop(self, sig: int, frame: Any) -> None:
        self.alive = False
        if self.server is not None:
            self.server.should_exit = True

    def _install_sigquit_handler(self) -> None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGQUIT, self._quit)

    def _quit(self) -> None:
        """SIGQUIT, the master's quick stop: close everything without waiting."""
        self.alive = False
        if self.server is not None:
            self.server.should_exit = self.server.force_exit = True

    async def _serve(self) -> None:
        from gunicorn.arbiter import Arbiter

        if not self.alive:  # told to stop while the app was loading
            return
        self.config.app = self.wsgi
        self.server = BalancedServer(config=self.config)
        self.server.listeners = self.sockets
        self._install_sigquit_handler()
        if getattr(self, "balance_slot", None) is not None:  # given by the pre_fork hook
            balance.start(self.balance_slot)
        await self.server.serve()
        if not self.server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)


class StoreWatcher:
    """Reloads the server when the model store changes (a model added, replaced or removed).

    A thread in the master compares the store's fingerprint every ``interval`` seconds and,
    once a change has held still for one more look (so a folder still being copied is not
    loaded half-way), sends the master SIGHUP: gunicorn's graceful reload starts workers
    that load the new set of models and lets the old ones finish what they are serving.
    """

    def __init__(self, fingerprint: Callable[[], tuple], interval: float = WATCH_SECONDS):
        self.fingerprint = fingerprint
        self.interval = interval
        self._stop = threading.Event()

    def start(self, server: Any = None) -> None:
        threading.Thread(target=self._run, name="modelport-store-watcher", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        served = self.fingerprint()
        seen = served
        while not self._stop.wait(self.interval):
            try:
                current = self.fingerprint()
            except OSError:
                log.exception("could not look at the model store")
                continue
            if current != served and current == seen:
                log.info("the model store changed: reloading the workers")
                served = current
                os.kill(os.getpid(), signal.SIGHUP)
            seen = current


def _child_exit_released(server: Any, worker: Any) -> None:
    child_exit(server, worker)
    balance.release(worker)


class GunicornServer(BaseApplication):
    def __init__(
        self, options: dict[str, Any], app_factory=None, watcher: StoreWatcher | None = None
    ) -> None:
        self.options = options
        self.app_factory = app_factory
        self.watcher = watcher
        super().__init__()

    def load_config(self) -> None:
        hooks = dict(HOOKS)
        if self.watcher is not None:
            hooks["when_ready"] = self.watcher.start
        hooks["pre_fork"] = balance.assign
        hooks["child_exit"] = _child_exit_released
        for key, value in (hooks | self.options).items():
            self.cfg.set(key, value)

    def load(self):
        if self.app_factory is not None:
            app = self.app_factory()
        else:
            from modelport.app import create_app

            app = create_app()
        learning = getattr(getattr(app, "extensions", {}).get("modelport"), "learning", None)
        if learning is not None:
            learning.start()  # in the worker: threads are not carried across a fork
        if not issubclass(self.cfg.worker_class, Worker):
            return app
        return WholeRequests(
            app,
            self.cfg.threads,
            app.config.get("MAX_CONTENT_LENGTH"),
            trusted=self.cfg.forwarded_allow_ips,
        )
