"""``modelport serve``: the production server (gunicorn), or Flask's reloader with ``--dev``.

Sizing, on a CPU-bound service: one worker process per core (Python runs one thread at a
time per process), each ONNX Runtime session with one intra-op thread (so workers x ORT
threads = cores: more would only make them take turns and, when a core is busy elsewhere,
wait on each other), and one request thread per worker: the worker's event loop reads each
request whole before a thread sees it, so a thread never waits on a client. A model that
batches gets the threads to fill a batch.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import multiprocessing
import os
import resource
import shutil
import socket
import tempfile
from pathlib import Path

import click

from modelport.config import Settings
from modelport.models.batching import policies_for
from modelport.models.registry import Registry, folder_policies, implementation_modules
from modelport.models.repository import ModelRepository
from modelport.telemetry import MULTIPROC_ENV

# One: a second thread only made the threads and the event loop take turns at the GIL.
# At 16 connections digits went 1,267 req/s with p99 22 ms with one thread, 1,292 req/s
# with p99 27-30 ms with two; photos at 8 connections 235 vs 229 a second.
THREADS_PER_WORKER = 1
# A batch can only fill with as many requests as a worker runs at once: a model that
# batches gets that many threads (its max_batch_size), up to this.
MAX_BATCH_THREADS = 8
# Connections one worker keeps open at most (more are answered 503). A connection costs the
# event loop memory and a file descriptor, not a thread: slow clients do not starve others.
CONNECTIONS_PER_WORKER = 1000


def available_cores() -> int:
    """Cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_workers() -> int:
    return available_cores()


def default_threads(settings: Settings) -> int:
    """:data:`THREADS_PER_WORKER`, or as many as the largest batch of a served model that
    batches (its folder's ``[batching]`` or ``MODELPORT_BATCHING``), up to
    :data:`MAX_BATCH_THREADS`: with one thread a batch never has company to wait for."""
    folders, _ = ModelRepository(settings.model_store_path).scan()
    served = [f for f in folders if not settings.models or f.name in settings.models]
    policies = policies_for(folder_policies(served), settings.batching)
    names = {folder.name for folder in served}
    sizes = [p.max_batch_size for name, p in policies.items() if p.enabled and name in names]
    return max([THREADS_PER_WORKER, *(min(size, MAX_BATCH_THREADS) for size in sizes)])


def prepare_models(settings: Settings) -> Registry:
    """Train or export what is missing, once, before any worker starts."""
    return Registry.load(ModelRepository(settings.model_store_path), settings.models)


def import_everything(settings: Settings) -> None:
    """Import the app, the migration runner and the models' modules once, in the master.

    The child that prepares the models and every worker are forked from it and share
    these modules, instead of each importing Flask, SQLAlchemy, Alembic and ONNX Runtime
    again. Importing starts no thread, so it is safe before a fork; running a model is
    not (see below). What only training, charts or one kind of model needs (scikit-learn,
    matplotlib, PyTorch) is imported where it is used, not here.
    """
    import alembic.command  # noqa: F401 - every worker brings the schema to head

    import modelport.app  # noqa: F401

    folders, _ = ModelRepository(settings.model_store_path).scan()
    for module in implementation_modules(folders):
        importlib.import_module(module)


def prepare_models_apart(settings: Settings) -> dict[str, str]:
    """:func:`prepare_models` in a forked child; the models that failed, with why.

    The master must not run a model itself: thread pools that OpenMP (scikit-learn),
    ONNX Runtime or PyTorch start do not survive the fork into workers, and a worker that
    inherits one hangs on its first prediction.
    """
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_prepare_and_report, args=(settings, sender), daemon=True)
    child.start()
    sender.close()
    try:
        failures = receiver.recv()
    except EOFError:
        failures = {"models": "preparing the models crashed"}
    child.join()
    return failures


def _prepare_and_report(settings: Settings, sender) -> None:
    sender.send(prepare_models(settings).failures)
    sender.close()


def metrics_folder() -> tuple[Path, bool]:
    """A clean folder for the workers' metric files, and whether it is ours to delete.

    The operator's own ``PROMETHEUS_MULTIPROC_DIR`` is used when set, else a fresh temp
    dir. Files left by an earlier run would add its counts to this one's: they go.
    """
    chosen = os.environ.get(MULTIPROC_ENV)
    if chosen:
        folder = Path(chosen)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()
    else:
        folder = Path(tempfile.mkdtemp(prefix="modelport-metrics-"))
    os.environ[MULTIPROC_ENV] = str(folder)
    _use_multiprocess_values()
    return folder, not chosen


def _use_multiprocess_values() -> None:
    """prometheus_client picks its value store when first imported; make sure it is the
    multiprocess one even if something imported it before the environment was set."""
    import sys

    if "prometheus_client.values" in sys.modules:
        from prometheus_client import values

        values.ValueClass = values.get_value_class()


def raise_open_files_limit() -> None:
    """As many file descriptors as the system allows this process (and the workers it forks):
    each open connection holds one, and a worker keeps up to CONNECTIONS_PER_WORKER."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):  # as it was, then
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def gunicorn_options(host: str, port: int, workers: int, threads: int) -> dict:
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        # uvicorn's event loop reads whole requests; the app runs in `threads` threads
        "worker_class": "modelport.web.server.Worker",
        "worker_connections": CONNECTIONS_PER_WORKER,
        "timeout": 60,
        "graceful_timeout": 20,
        "keepalive": 5,
        "accesslog": None,  # each request is logged once, as JSON, by the app
        "errorlog": "-",
        # One path per user ($HOME/.gunicorn/gunicorn.ctl): a second server would take it
        # over from the first. Nothing here uses gunicornc.
        "control_socket_disable": True,
    }


def check_port_free(host: str, port: int) -> None:
    """Say plainly that the port is taken (and how to pick another) before anything starts,
    rather than gunicorn's five "Connection in use" retries."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except PermissionError:
        raise click.ClickException(
            f"Port {port} needs more rights than this user has: choose one above 1023 "
            f"(--port 5000, or make run PORT=5000)."
        ) from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise click.ClickException(
                f"Port {port} on {host} is in use (another server, or Modelport already "
                f"running): choose another with --port {port + 1} (make run PORT={port + 1})."
            ) from None
        raise click.ClickException(f"Cannot serve on {host}:{port}: {exc.strerror}.") from None


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Worker processes [default: MODELPORT_WORKERS, else one per core].",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    default=None,
    help="Threads per worker [default: MODELPORT_THREADS, else 1, or a batching model's "
    "batch size up to 8].",
)
@click.option("--dev", is_flag=True, help="Flask's development server with auto-reload.")
def serve_command(
    host: str, port: int, workers: int | None, threads: int | None, dev: bool
) -> None:
    """Run the web app and API."""
    settings = Settings.from_env()
    check_port_free(host, port)
    if dev:
        from modelport.app import create_app

        create_app(settings).run(host=host, port=port, debug=True, use_reloader=True)
        return
    folder, owned = metrics_folder()
    import_everything(settings)
    try:
        for name, reason in prepare_models_apart(settings).items():
            click.echo(f"warning: model {name} is not available: {reason}", err=True)
        from modelport.web.server import GunicornServer, StoreWatcher

        workers = workers or settings.workers or default_workers()
        threads = threads or settings.threads or default_threads(settings)
        watcher = StoreWatcher(ModelRepository(settings.model_store_path).fingerprint)
        raise_open_files_limit()
        GunicornServer(gunicorn_options(host, port, workers, threads), watcher=watcher).run()
    finally:
        if owned:
            shutil.rmtree(folder, ignore_errors=True)
