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


def commands(workers: int) -> dict[str, tuple[list[str], int]]:
    """Each front's command line (``{port}`` to fill in), and its threads a worker."""
    python = sys.executable

    def gunicorn(threads: int, worker: str, *rest: str) -> list[str]:
        return [python, "-m", "gunicorn", "-b", "127.0.0.1:{port}", "-w", str(workers)] + [
            *["--threads", str(threads), "-k", worker, *rest]
        ]

    # At most 4 connections a thread, as hello_baseline.py: uncapped, one worker took all 16
    # keep-alive connections and the other idled (half the throughput).
    capped = ["--worker-connections", str(2 * hello_baseline.CONNECTIONS_PER_THREAD)]
    fronts = {"gunicorn gthread, 2 threads": (gunicorn(2, "gthread", *capped, "bench_app:app"), 2)}
    for threads in (1, 2):
        fronts[f"Modelport's front (uvicorn loop, whole requests), {threads} thread(s)"] = (
            gunicorn(threads, "modelport.web.server.Worker", "bench_asgi:app"),
            threads,
        )
    if importlib.util.find_spec("granian") is not None:
        for threads in (1, 2):
            fronts[f"Granian (Rust HTTP core, WSGI), {threads} thread(s)"] = (
                [python, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1"]
                + ["--port", "{port}", "--workers", str(workers)]
                + ["--blocking-threads", str(threads), "bench_app:app"],
                threads,
            )
    return fronts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    options = parser.parse_args()
    workers = default_workers()
    folder = Path(tempfile.mkdtemp(prefix="modelport-fronts-"))
    (folder / "bench_app.py").write_text(hello_baseline.APPS["lean"])
    (folder / "bench_asgi.py").write_text(WHOLE_REQUESTS)
    body = hello_baseline.digit_body()
    figures = {}
    for name, (command, threads) in commands(workers).items():
        port = serving.free_port()
        result, cpu_ms = serving.drive_command(
            [part.format(port=port) for part in command],
            f"http://127.0.0.1:{port}/api/predict",
            body,
            CONNECTIONS,
            options.seconds,
            cwd=folder,
            env={"BENCH_THREADS": str(threads)},
        )
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
