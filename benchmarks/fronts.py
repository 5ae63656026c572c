"""Is the HTTP server the bound? The same bare digit app (``hello_baseline.py --app lean``:
decode, preprocess, CNN, nothing else) behind each front a deployment could choose, one
after the other, driven by wrk at 16 connections, one worker per core:

- gunicorn's gthread workers, 2 threads each (the classic Flask deployment);
- Modelport's front: gunicorn workers running uvicorn's event loop (httptools), which reads
  each request whole before a thread runs the app (what ``modelport serve`` uses, for slow
  clients), with 1 thread a worker (its default) and with 2;
- Granian, a server with a compiled (Rust) HTTP core that runs WSGI apps, 1 and 2 threads a
  worker, when installed.

    .venv/bin/python benchmarks/fronts.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import hello_baseline  # noqa: E402
import serving  # noqa: E402

from modelport.cli.serve import default_workers  # noqa: E402

CONNECTIONS = 16
WHOLE_REQUESTS = """
import os
from bench_app import app as flask_app
from modelport.web.server import WholeRequests
app = WholeRequests(flask_app, int(os.environ["BENCH_THREADS"]), None)
"""


def commands(port: int, workers: int) -> dict[str, tuple[list[str], int]]:
    """Each front's command line, and its threads a worker."""
    python = sys.executable

    def gunicorn(threads: int, worker: str, app: str) -> list[str]:
        return [python, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", str(workers)] + [
            *["--threads", str(threads), "-k", worker, app]
        ]

    # At most 4 connections a thread, as hello_baseline.py: uncapped, one worker took all 16
    # keep-alive connections and the other idled (half the throughput).
    capped = ["--worker-connections", str(2 * hello_baseline.CONNECTIONS_PER_THREAD)]
    gthread = gunicorn(2, "gthread", "bench_app:app")
    fronts = {"gunicorn gthread, 2 threads": ([*gthread[:-1], *capped, gthread[-1]], 2)}
    for threads in (1, 2):
        fronts[f"Modelport's front (uvicorn loop, whole requests), {threads} thread(s)"] = (
            gunicorn(threads, "modelport.web.server.Worker", "bench_asgi:app"),
            threads,
        )
    if importlib.util.find_spec("granian") is not None:
        for threads in (1, 2):
            fronts[f"Granian (Rust HTTP core, WSGI), {threads} thread(s)"] = (
                [python, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1"]
                + ["--port", str(port), "--workers", str(workers)]
                + ["--blocking-threads", str(threads), "bench_app:app"],
                threads,
            )
    return fronts


def measure(command: list[str], threads: int, folder: Path, port: int, seconds: int):
    body = hello_baseline.digit_body()
    url = f"http://127.0.0.1:{port}/api/predict"
    process = subprocess.Popen(
        command,
        cwd=folder,
        env=os.environ | {"BENCH_THREADS": str(threads)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        serving.wait_answering(url, body)
        serving.wrk(url, body, "application/json", CONNECTIONS, 2)
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        pids = [process.pid, *map(int, children)]
        before = serving.cpu_seconds(pids)
        result = serving.wrk(url, body, "application/json", CONNECTIONS, seconds)
        cpu_ms = (serving.cpu_seconds(pids) - before) * 1000 / max(result.requests, 1)
        return result, cpu_ms
    finally:
        process.terminate()
        process.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    options = parser.parse_args()
    workers = default_workers()
    folder = Path(tempfile.mkdtemp(prefix="modelport-fronts-"))
    (folder / "bench_app.py").write_text(hello_baseline.APPS["lean"])
    (folder / "bench_asgi.py").write_text(WHOLE_REQUESTS)
    figures = {}
    for name in commands(0, workers):
        port = serving.free_port()
        command, threads = commands(port, workers)[name]
        result, cpu_ms = measure(command, threads, folder, port, options.seconds)
        figures[name] = (
            f"{result.requests_per_s:,.0f} req/s, p99 {result.p99_ms} ms, "
            f"{cpu_ms:.2f} ms CPU a request, {result.errors} errors"
        )
    if importlib.util.find_spec("granian") is None:
        figures["Granian"] = "not installed (pip install granian)"
    serving.report(
        f"the bare digit app behind each front, {workers} workers, {CONNECTIONS} connections, "
        f"{options.seconds} s",
        figures,
    )


if __name__ == "__main__":
    main()
