"""What the load benchmarks share: start ``modelport serve`` as a user would, wait until
every worker is ready, drive it with wrk (Debian's ``wrk``, a Lua script for POST bodies),
and read each worker's memory. Only 127.0.0.1, always bounded in time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

POST_LUA = """
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = os.getenv("BENCH_CONTENT_TYPE")
"""


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    folder: Path
    started: float
    first_ready: float = 0.0
    all_ready: float = 0.0

    def workers(self) -> list[int]:
        return children(self.process.pid)

    def rss_mb(self) -> dict[str, float]:
        """Resident memory of the master and of each worker, in MB."""
        sizes = {"master": _rss_mb(self.process.pid)}
        for index, pid in enumerate(sorted(self.workers())):
            sizes[f"worker{index + 1}"] = _rss_mb(pid)
        return sizes

    def cpu_seconds(self) -> float:
        """CPU time used so far by the master and the live workers (user + system)."""
        return cpu_seconds([self.process.pid, *self.workers()])

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


def children(pid: int) -> list[int]:
    """The processes ``pid`` started (a server's workers)."""
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def cpu_seconds(pids: list[int]) -> float:
    """CPU time the processes ``pids`` have used so far (user + system)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(models: str, store: Path, args: list[str], env: dict[str, str] | None = None) -> Server:
    """``python -m modelport serve`` with a fresh instance folder; returns once every worker
    answers ``/readyz`` with 200 (timings kept for the cold-start figure)."""
    folder = Path(tempfile.mkdtemp(prefix="modelport-bench-"))
    port = free_port()
    environment = (
        os.environ
        | {
            "MODELPORT_INSTANCE_PATH": str(folder),
            "MODELPORT_MODEL_STORE": str(store),
            "MODELPORT_MODELS": models,
            # One load generator is one client: the per-client limit would refuse it.
            "MODELPORT_RATE_LIMIT_PREDICT": "off",
        }
        | (env or {})
    )
    command = [sys.executable, "-m", "modelport", "serve", "--port", str(port), *args]
    started = time.perf_counter()
    log = open(folder / "server.log", "wb")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", process, folder, started)
    ready: set[int] = set()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError((folder / "server.log").read_text()[-3000:])
        try:
            with urllib.request.urlopen(server.url + "/readyz", timeout=2) as response:
                ready.add(json.load(response)["pid"])
                server.first_ready = server.first_ready or time.perf_counter() - started
        except OSError:
            time.sleep(0.02)
            continue
        workers = server.workers()
        if workers and ready >= set(workers):
            server.all_ready = time.perf_counter() - started
            return server
    server.stop()
    raise RuntimeError("the server did not become ready in 300 s")


def wait_answering(url: str, body: bytes, seconds: float = 30.0) -> None:
    """Until a server just started answers ``body`` POSTed to ``url`` (or ``seconds``)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(urllib.request.Request(url, body), timeout=1)
            return
        except OSError:
            time.sleep(0.05)


def drive_command(
    command: list[str],
    url: str,
    body: bytes,
    connections: int,
    seconds: int,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> tuple[WrkResult, float]:
    """Start the server ``command`` (answering JSON POSTs at ``url``), drive it with wrk
    after a 2 s warm-up, stop it: wrk's result and the server's CPU ms per request."""
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=os.environ | (env or {}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_answering(url, body)
        wrk(url, body, "application/json", connections, 2)
        pids = [process.pid, *children(process.pid)]
        before = cpu_seconds(pids)
        result = wrk(url, body, "application/json", connections, seconds)
        return result, (cpu_seconds(pids) - before) * 1000 / max(result.requests, 1)
    finally:
        process.terminate()
        process.wait(30)


@dataclass
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    text: str


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(
    url: str, body: bytes, content_type: str, connections: int, seconds: int, threads: int = 2
) -> WrkResult:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "body").write_bytes(body)
        (Path(tmp) / "post.lua").write_text(POST_LUA)
        command = [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            str(Path(tmp) / "post.lua"),
            url,
        ]
        env = os.environ | {
            "BENCH_BODY": str(Path(tmp) / "body"),
            "BENCH_CONTENT_TYPE": content_type,
        }
        text = subprocess.run(
            command, env=env, capture_output=True, text=True, check=True, timeout=seconds + 60
        ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    p50 = _ms(re.search(r"\s50%\s+(\S+)", text).group(1))
    p99 = _ms(re.search(r"\s99%\s+(\S+)", text).group(1))
    total = int(re.search(r"(\d+) requests in", text).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    errors = int(bad.group(1)) if bad else 0
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return WrkResult(rate, p50, p99, total, errors, text)


def drive(
    server: Server, url: str, body: bytes, content_type: str, connections: int, seconds: int
) -> tuple[WrkResult, dict[str, object]]:
    """wrk against ``url`` after a 3 s warm-up: its result, and the figures every load
    benchmark reports (latency, server CPU per request, errors, memory, load)."""
    wrk(url, body, content_type, connections, 3)
    cpu_before = server.cpu_seconds()
    result = wrk(url, body, content_type, connections, seconds)
    cpu_ms = (server.cpu_seconds() - cpu_before) * 1000 / max(result.requests, 1)
    return result, {
        "p50 ms": result.p50_ms,
        "p99 ms": result.p99_ms,
        "requests": result.requests,
        "server CPU ms per request": round(cpu_ms, 2),
        "errors": result.errors,
        "RSS MB": {k: round(v) for k, v in server.rss_mb().items()},
        "load average (1, 5, 15 min)": load_average(),
    }


def load_average() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


def report(title: str, figures: dict[str, object]) -> None:
    print(f"== {title}")
    for key, value in figures.items():
        print(f"  {key}: {value}")
